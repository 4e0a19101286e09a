"""`python -m graphmem.profile ARGS`: the profile driver (graphmem.profile.driver), as `nox -s profile -- ARGS` runs it."""
import sys

from graphmem.profile.driver import main

sys.exit(main())
