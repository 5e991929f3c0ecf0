def init():
    return object.__new__(int)
