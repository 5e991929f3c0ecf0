from spin import Dispatcher

def init():
    kernel = Dispatcher._system
    return kernel
