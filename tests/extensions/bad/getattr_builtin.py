from spin import Dispatcher

def init():
    d = getattr(Dispatcher, "_s")
    return d
