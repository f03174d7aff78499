"""Moved to `simulator.sim.batching`; this path stays for `from simulator.batching import ...`."""

from .sim.batching import *  # noqa: F403
