"""`python -m mlops` runs the CLI."""

from mlops.cli import main

main()
