def init():
    b = __builtins__
    return b
