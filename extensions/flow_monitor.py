"""A passive monitor: count packets and bytes per flow.

Handlers with no guard on UDP.PacketArrived and TCP.PacketArrived see every
datagram and segment that reaches this host and change nothing: packets
are read-only to handlers, and the monitor neither consumes nor cancels,
so the endpoints after it in the list still get every packet.
"""

from spin import TCP, UDP, Console, Dispatcher

flows = {}  # (protocol, source, source port, destination, destination port) -> [packets, bytes]
REPORT_EVERY = 1000  # print the busiest flow every this many packets
seen = 0


def count(proto, pkt):
    global seen
    key = (proto, pkt.src, pkt.src_port, pkt.dst, pkt.dst_port)
    entry = flows.get(key)
    if entry is None:
        entry = [0, 0]
        flows[key] = entry
    entry[0] += 1
    entry[1] += len(pkt.payload)
    seen += 1
    if seen % REPORT_EVERY == 0:
        Console.Print(f"flow_monitor: {seen} packets in {len(flows)} flows")


def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, count, closure="udp")
    Dispatcher.InstallHandler(TCP.PacketArrived, count, closure="tcp")
