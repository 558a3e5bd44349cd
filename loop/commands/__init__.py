"""One module per `armloop` command; loop/cli.py maps each typer command to one function here."""
