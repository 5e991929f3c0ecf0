"""The `spinwb` command (main.py) and its subcommands that are not the TUI, the shell or a bench."""
