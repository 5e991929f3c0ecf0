"""Forward a port to another host: a node in the protocol graph
(SOSP'95 §5.3, "Protocol forwarding", Table 6; 33.1's
TcpClassification.Redirect and UdpRedirect).

Every packet for PORT goes on to TARGET with this host as its source, and
TARGET's packets from PORT go back to the client that sent the first. With
PROTO = "tcp" that is every segment -- SYN, data, FIN, RST alike -- so the
two ends hold one connection end to end: handshake, windows,
retransmissions and close are theirs, which a user-level splicer (two
connections and a process copying between them) cannot offer. The node is
in the kernel, so each packet crosses the protocol stack once and the
user/kernel boundary never. Both bindings are First and Cancel: once a
guard here says yes, nothing after it on the event -- this host's own UDP
ports or TCP engine -- sees the packet.

A flow is the whole (client address, client port, protocol, server port).
TARGET's answers name only the client's port (the node keeps ports as they
are), so a port belongs to one flow at a time: while a client's flow is
live, another station sending from the same port is refused rather than
handed that client's answers. A flow idle for IDLE_US lets its port go
(RFC 4787 REQ-5: a UDP mapping lasts at least two minutes), and at most
MAX_FLOWS are kept: a new one past that takes the oldest slot only if that
flow is idle.
"""

from spin import IP, TCP, UDP, Clock, Console, Dispatcher

PROTO = "udp"  # or "tcp"
PORT = 7000
TARGET = "10.0.0.3"
IDLE_US = 120_000_000  # virtual µs a flow may be idle before its port is free
MAX_FLOWS = 1024
CLOCK_MHZ = 133
flows = {}  # (client address, client port, protocol, server port) -> cycle last seen, oldest first
owner = {}  # client port -> the flow holding it (TARGET's answers name only the port)
forwarded = 0
refused = 0


def to_target(pkt):
    return pkt.dst_port == PORT and pkt.src != TARGET and pkt.dst == IP.Address()  # not a broadcast


def from_target(pkt):
    return pkt.src == TARGET and pkt.src_port == PORT


def forward(pkt):
    global forwarded, refused
    now = Clock.Now()
    flow = (pkt.src, pkt.src_port, PROTO, PORT)
    held = owner.get(pkt.src_port)
    if held != flow:
        if held is not None and now - flows[held] < IDLE_US * CLOCK_MHZ:
            refused += 1  # another client's live flow holds this port
            return
        if held is not None:
            del flows[held]
        elif len(flows) >= MAX_FLOWS:
            oldest = next(iter(flows))
            if now - flows[oldest] < IDLE_US * CLOCK_MHZ:
                refused += 1  # the table is full of live flows
                return
            del flows[oldest]
            del owner[oldest[1]]
        owner[pkt.src_port] = flow
    else:
        del flows[flow]  # to the young end: the dict is oldest first
    flows[flow] = now
    forwarded += 1
    IP.Forward(pkt, IP.Address(), TARGET)


def back(pkt):
    global forwarded
    flow = owner.get(pkt.dst_port)
    if flow is not None:
        forwarded += 1
        IP.Forward(pkt, IP.Address(), flow[0])


def init():
    event = TCP.PacketArrived if PROTO == "tcp" else UDP.PacketArrived
    Dispatcher.InstallHandler(event, forward, to_target, first=True, cancel=True)
    Dispatcher.InstallHandler(event, back, from_target, first=True, cancel=True)
    Console.Print(f"forward: {PROTO} port {PORT} -> {TARGET}")
