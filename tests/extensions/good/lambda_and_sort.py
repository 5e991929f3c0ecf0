"""A legitimate extension: lambda and sort."""
from spin import Console

PAIRS = [(3, "c"), (1, "a"), (2, "b")]


def init():
    Console.Print(sorted(PAIRS, key=lambda p: p[0]))
