import sys

from graphmem.bench.run import main

sys.exit(main())
