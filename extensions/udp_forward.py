"""Forward a UDP port to another host: a node in the protocol graph
(SOSP'95 §5.3, "Protocol forwarding", Table 6).

Datagrams for PORT are sent on to TARGET with this host as their source;
TARGET's answers (from its PORT) are sent back to the client that asked.
The node sits in the kernel, so each datagram crosses the protocol stack
once and the user/kernel boundary never. Both bindings are First and
Cancel: once a guard here says yes, nothing after it on UDP.PacketArrived
sees the datagram.
"""

from spin import IP, UDP, Console, Dispatcher

PORT = 7000
TARGET = "10.0.0.3"
clients = {}  # client's source port -> client's address, learned from the forward direction
forwarded = 0


def to_target(dgram):
    return dgram.dst_port == PORT and dgram.src != TARGET


def from_target(dgram):
    return dgram.src == TARGET and dgram.src_port == PORT


def forward(dgram):
    global forwarded
    forwarded += 1
    clients[dgram.src_port] = dgram.src
    IP.Forward(dgram, IP.Address(), TARGET)


def back(dgram):
    global forwarded
    client = clients.get(dgram.dst_port)
    if client is not None:
        forwarded += 1
        IP.Forward(dgram, IP.Address(), client)


def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, forward, to_target, first=True, cancel=True)
    Dispatcher.InstallHandler(UDP.PacketArrived, back, from_target, first=True, cancel=True)
    Console.Print(f"udp_forward: port {PORT} -> {TARGET}")
