def init():
    os = __import__("os")
    return os
