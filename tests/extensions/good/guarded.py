"""A legitimate extension: guarded."""
from spin import Dispatcher, UDP


def is_dns(pkt):
    return pkt == 53


def on_dns(pkt):
    return "dns"


def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, on_dns, is_dns)
