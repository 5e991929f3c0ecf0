"""A legitimate extension: uninstall."""
from spin import Dispatcher, UDP

handle = None


def once(pkt):
    Dispatcher.Uninstall(handle)


def init():
    global handle
    handle = Dispatcher.InstallHandler(UDP.PacketArrived, once)
