"""SPIN Workbench: the Textual app, the shell and the `spinwb` command."""

__version__ = "0.1.0"  # pyproject.toml reads it; snapshots record it (a replay is only exact on the same code)
