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
"""

from spin import IP, TCP, UDP, Console, Dispatcher

PROTO = "udp"  # or "tcp"
PORT = 7000
TARGET = "10.0.0.3"
clients = {}  # client's source port -> client's address, learned from the forward direction
forwarded = 0


def to_target(pkt):
    return pkt.dst_port == PORT and pkt.src != TARGET


def from_target(pkt):
    return pkt.src == TARGET and pkt.src_port == PORT


def forward(pkt):
    global forwarded
    forwarded += 1
    clients[pkt.src_port] = pkt.src
    IP.Forward(pkt, IP.Address(), TARGET)


def back(pkt):
    global forwarded
    client = clients.get(pkt.dst_port)
    if client is not None:
        forwarded += 1
        IP.Forward(pkt, IP.Address(), client)


def init():
    event = TCP.PacketArrived if PROTO == "tcp" else UDP.PacketArrived
    Dispatcher.InstallHandler(event, forward, to_target, first=True, cancel=True)
    Dispatcher.InstallHandler(event, back, from_target, first=True, cancel=True)
    Console.Print(f"forward: {PROTO} port {PORT} -> {TARGET}")
