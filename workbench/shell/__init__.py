"""The command language the TUI's `:` line and `spinwb shell` share, its prompt and its snapshot-file check."""
