"""What arrives and what it costs: arrival processes (open, superposed, closed loop,
traces) and the service-time model of a batch (parametric or empirical samples)."""
