"""scenarios layer (see ARCHITECTURE.md)."""
