"""A DeZero-style define-by-run autograd; dezero.VARIANT names its memory policy."""
from dezero.core import *  # noqa: F401,F403
from dezero.core import __all__  # noqa: F401
