"""A legitimate extension: comprehension."""
from spin import Console


def squares(n):
    return [i * i for i in range(n) if i % 2]


def init():
    Console.Print(sum(squares(10)))
