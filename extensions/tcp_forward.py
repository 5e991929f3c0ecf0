"""Forward a TCP port to another host, control segments included
(SOSP'95 §5.3, "Protocol forwarding"; 33.1's TcpClassification.Redirect).

Every segment for PORT -- SYN, data, FIN, RST alike -- goes on to TARGET
with this host as its source, and TARGET's segments from PORT go back to
the client. The two ends hold one TCP connection end to end: handshake,
windows, retransmissions and close are theirs, which a user-level splicer
(two connections and a process copying between them) cannot offer. The
bindings are First and Cancel, so this host's own TCP engine -- the
intrinsic handler, last in the list -- never sees these segments.
"""

from spin import IP, TCP, Console, Dispatcher

PORT = 8000
TARGET = "10.0.0.3"
clients = {}  # client's port -> client's address
forwarded = 0


def to_target(seg):
    return seg.dst_port == PORT and seg.src != TARGET


def from_target(seg):
    return seg.src == TARGET and seg.src_port == PORT


def forward(seg):
    global forwarded
    forwarded += 1
    clients[seg.src_port] = seg.src
    IP.Forward(seg, IP.Address(), TARGET)


def back(seg):
    global forwarded
    client = clients.get(seg.dst_port)
    if client is not None:
        forwarded += 1
        IP.Forward(seg, IP.Address(), client)


def init():
    Dispatcher.InstallHandler(TCP.PacketArrived, forward, to_target, first=True, cancel=True)
    Dispatcher.InstallHandler(TCP.PacketArrived, back, from_target, first=True, cancel=True)
    Console.Print(f"tcp_forward: port {PORT} -> {TARGET}")
