"""Real-server tools: the request-log format, simulated runs as logs, profiling a
model by batch size, calibration, validation, and the testbed server (`testbed/`)."""
