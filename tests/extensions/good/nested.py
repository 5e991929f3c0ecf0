"""A legitimate extension: nested."""
def make_counter():
    n = 0

    def bump():
        nonlocal n
        n += 1
        return n

    return bump


c = make_counter()


def init():
    c()
    return c()
