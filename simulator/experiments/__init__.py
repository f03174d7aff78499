"""Running experiments: replications (`run`), sweeps and their executors, capacity
plans, SIGTERM/Ctrl-C handling, and the speed benchmarks."""
