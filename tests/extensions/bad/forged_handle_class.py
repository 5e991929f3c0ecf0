from spin import Dispatcher, UDP


def init():
    h = Dispatcher.InstallHandler(UDP.PacketArrived, init).__class__(None, "binding")
    return h
