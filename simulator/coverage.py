"""Moved to `simulator.analysis.coverage`; this path stays for `python -m simulator.coverage`."""

from .analysis.coverage import *  # noqa: F403
from .analysis.coverage import main

if __name__ == "__main__":
    main()
