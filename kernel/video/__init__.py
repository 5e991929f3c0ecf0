"""The video system of SOSP'95 §5.4: the movie and packet formats both ends share (format.py)."""
