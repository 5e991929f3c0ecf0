"""A legitimate extension: exceptions."""
def safe_div(a, b):
    try:
        return a // b
    except ZeroDivisionError:
        return 0
    finally:
        pass


def init():
    return safe_div(1, 0)
