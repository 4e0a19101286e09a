"""`python -m graphmem.report`: render reports/COMPARISON.md, its charts and the README result line."""
import sys

from graphmem.report.render import main

sys.exit(main())
