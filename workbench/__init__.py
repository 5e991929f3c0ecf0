"""SPIN Workbench: the session, the TUI (tui/), the shell (shell/), `spinwb` (cli/) and the benches (bench/)."""

__version__ = "0.1.0"  # pyproject.toml reads it; snapshots record it (a replay is only exact on the same code)
