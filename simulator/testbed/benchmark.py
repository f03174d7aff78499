"""Moved to `simulator.realserver.testbed.benchmark`; this path stays for `python -m simulator.testbed.benchmark`."""

from ..realserver.testbed.benchmark import *  # noqa: F403
from ..realserver.testbed.benchmark import main

if __name__ == "__main__":
    main()
