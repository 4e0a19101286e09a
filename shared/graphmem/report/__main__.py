import sys

from graphmem.report.render import main

sys.exit(main())
