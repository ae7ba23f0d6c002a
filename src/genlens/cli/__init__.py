"""The ``genlens`` command line: thin typer layer that parses input and calls the library."""
