"""`python -m bn` runs the command line."""

from bn.cli import main

main()
