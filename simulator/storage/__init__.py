"""Run folders on disk: writing a run's results, reading saved runs and sweeps back,
and the one-row-per-point sweep table."""
