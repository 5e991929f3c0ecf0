from spin import Console

def init():
    return Console._iface
