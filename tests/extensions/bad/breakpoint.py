def init():
    breakpoint()
