"""The `batchsim` command line (click): thin commands over the API. `app` holds the
group, run/check/schema/bench and the entry point, and loads each other module's commands
when they are used; `common` is what they all share; heavy imports stay lazy."""

from .app import cli, main

__all__ = ["cli", "main"]
