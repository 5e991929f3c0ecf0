"""extensions layer (see ARCHITECTURE.md)."""
