"""The simulation: batching policies, queue disciplines, the SimPy models (`engine`,
`fleet`), per-request records, named random streams, stage joins and the client path."""
