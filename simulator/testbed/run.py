"""Moved to `simulator.realserver.testbed.run`; this path stays for `python -m simulator.testbed.run`."""

from ..realserver.testbed.run import *  # noqa: F403
from ..realserver.testbed.run import main

if __name__ == "__main__":
    main()
