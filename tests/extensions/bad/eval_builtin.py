def init():
    return eval("1 + 1")
