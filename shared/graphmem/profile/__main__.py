import sys

from graphmem.profile.driver import main

sys.exit(main())
