"""Moved to `simulator.reporting.tables`; this path stays for `from simulator.tables import ...`."""

from .reporting.tables import *  # noqa: F403
