"""Moved to `simulator.realserver.testbed`; this package stays for
`python -m simulator.testbed.run` and `python -m simulator.testbed.benchmark`."""
