def init():
    g = (x for x in [1])
    f = g.gi_frame
    return f
