"""`python -m padt_eval.cli ...`: the same as `padt-eval ...`."""

from padt_eval.cli.app import main

main()
