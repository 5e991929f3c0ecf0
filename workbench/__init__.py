"""SPIN Workbench: the Textual app, the shell and the `spinwb` command."""
