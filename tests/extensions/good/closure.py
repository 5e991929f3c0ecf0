"""A legitimate extension: closure."""
from spin import Dispatcher, UDP


def for_port(port, pkt):
    return pkt == port


def seen(log, pkt):
    log.append(pkt)


LOG = []


def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, seen, for_port, closure=LOG, guard_closure=7)
