"""Generators outlive the handler that made them: refused (use a list or a generator expression)."""
def evens(limit):
    for i in range(limit):
        if i % 2 == 0:
            yield i


def init():
    return list(evens(10))
