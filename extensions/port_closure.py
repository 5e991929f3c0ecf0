"""One handler, many ports: closures.

A closure is a value the dispatcher passes as the first argument to a
guard or handler (SPIN's closures, spin-reference.md §1). Here one pair of
functions serves several ports, each installation with its own closure. The
guard's closure is the port; the handler's closure is a list to log into.
"""

from spin import UDP, Dispatcher

seen = {7: [], 9: [], 13: []}


def for_port(port, pkt):
    return pkt.dst_port == port


def log_to(log, pkt):
    log.append(len(pkt.payload))


def init():
    for port, log in seen.items():
        Dispatcher.InstallHandler(UDP.PacketArrived, log_to, for_port, closure=log, guard_closure=port)
