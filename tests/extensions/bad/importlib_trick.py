import importlib as spin

def init():
    return spin
