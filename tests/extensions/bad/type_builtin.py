def init():
    t = type(init)
    return t
