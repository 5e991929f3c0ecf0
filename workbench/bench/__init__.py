"""`spinwb bench`: performance figures, one module per bench (main.py picks one)."""
