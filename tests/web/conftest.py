"""The CLI tests' fixtures (a private home, the installed command), shared."""

from tests.cli.conftest import home, run

__all__ = ["home", "run"]
