"""A real dynamic-batching server to measure, and the tools that measure it.

`python -m simulator.testbed.run` starts `server` (a separate process: one
thread that batches with the `dynamic` policy's rule and runs the numpy MLP of
`model` on single-threaded BLAS) and drives it from `loadgen` (open-loop
Poisson client) over UDP on localhost, then writes the per-request log that
`batchsim calibrate` and `batchsim validate` read (format: `simulator.realserver.servelog`).
`python -m simulator.testbed.benchmark` checks the simulator's predictions
against this server.
"""
