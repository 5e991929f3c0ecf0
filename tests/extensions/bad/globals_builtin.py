def init():
    return globals()
