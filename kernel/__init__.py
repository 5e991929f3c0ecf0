"""kernel layer (see ARCHITECTURE.md)."""
