"""Moved to `simulator.experiments.bench_sweep`; this path stays for `python -m simulator.bench_sweep`."""

from .experiments.bench_sweep import *  # noqa: F403
from .experiments.bench_sweep import main

if __name__ == "__main__":
    main()
