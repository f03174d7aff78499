"""Moved to `simulator.realserver.servelog`; this path stays for `from simulator.servelog import ...`."""

from .realserver.servelog import *  # noqa: F403
