"""A legitimate extension: fstrings."""
from spin import Console


def init():
    name = "spin"
    Console.Print(f"hello {name!r} {len(name):>4}")
    Console.Print("%s-%d" % (name, 3))
