"""A legitimate extension: generator expressions (each step is metered)."""


def evens(limit):
    return list(i for i in range(limit) if i % 2 == 0)


def init():
    return sum(x * x for x in evens(10))
