from spin import Dispatcher

def init():
    kernel = Dispatcher._s
    return kernel
