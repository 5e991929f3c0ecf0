from spin import Dispatcher

def init():
    d = getattr(Dispatcher, "_system")
    return d
