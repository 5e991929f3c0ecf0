def init():
    c = (y for y in [2])
    return c.gi_code.co_consts
