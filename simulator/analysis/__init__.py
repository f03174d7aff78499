"""Analysis of per-request records: metrics and CIs, warm-up, SLO feasibility,
breakdowns, capacity under the SLO, queueing theory and the CI coverage experiment."""
