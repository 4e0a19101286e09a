"""`python -m graphmem.bench run ...`: a whole bench run (graphmem.bench.run); the measuring process is
`python -m graphmem.bench.measure`."""
import sys

from graphmem.bench.run import main

sys.exit(main())
