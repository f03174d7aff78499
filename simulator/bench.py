"""Moved to `simulator.experiments.bench`; this path stays for `python -m simulator.bench`."""

from .experiments.bench import *  # noqa: F403
from .experiments.bench import main

if __name__ == "__main__":
    main()
