from kernel.sys import dispatcher

def init():
    return dispatcher
