"""`python -m simulator` runs the batchsim command line."""

from .cli import main

main()
