"""The `batchsim` command line (click): thin commands over the API. `app` holds the
group and run/check/bench; each other module adds its commands; heavy imports stay lazy."""

from .app import cli, main

__all__ = ["cli", "main"]
