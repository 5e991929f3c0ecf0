"""The terminal workbench (Textual): the app and its panes, over a session (workbench/session.py)."""
