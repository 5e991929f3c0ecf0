"""The video server's third extension (SOSP'95 §5.4): a handler on the
send event that turns one send into a multicast to a list of clients.

The handler is installed on UDP.PacketSend, First and Cancel, guarded by
``dst_port == GROUP`` to this host's own address: the sender's datagrams to the group never reach
UDP's own handler; instead ``Multicast.Send`` takes the datagram down the
rest of the graph once -- one UDP header and checksum over the payload,
one IP header -- and hands the driver one copy per client
(kernel/net/multicast.py). That is why SPIN's server in Figure 6 uses
half the processor of one that sends each packet once per client.

Clients: CLIENTS lists some ("a.b.c.d:port,..."); others join with a
datagram to CONTROL from their own address: ``b"JOIN"`` + u16 port (big-
endian), or ``b"LEAVE"`` + u16 port. At most MAX_CLIENTS; anything else
sent there -- malformed, duplicate, a full list -- is counted and ignored.
Loaded as the machine's owner (First and Cancel need the right).
"""

from spin import IP, UDP, Console, Dispatcher, Multicast

GROUP = 5000
CONTROL = 5005
CLIENTS = ""
MAX_CLIENTS = 32

clients = []
joins = 0
leaves = 0
refused = 0
sends = 0
copies = 0


def add(addr, port):
    global joins, refused
    c = (addr, port)
    if port <= 0 or port > 65535 or c in clients or len(clients) >= MAX_CLIENTS:
        refused += 1
        return
    clients.append(c)
    joins += 1


def control(d):
    global leaves, refused
    p = bytes(d.payload[0:8])
    if d.dst != IP.Address():
        refused += 1
    elif len(p) == 6 and p[0:4] == b"JOIN":
        add(d.src, (p[4] << 8) | p[5])
    elif len(p) == 7 and p[0:5] == b"LEAVE":
        c = (d.src, (p[5] << 8) | p[6])
        if c in clients:
            clients.remove(c)
            leaves += 1
        else:
            refused += 1
    else:
        refused += 1


def to_group(d):
    return d.dst_port == GROUP and d.dst == IP.Address()


def cast(d):
    global sends, copies
    sends += 1
    copies += Multicast.Send(d, clients)


def init():
    for item in CLIENTS.split(","):
        item = item.strip()
        if item:
            host, _, port = item.partition(":")
            add(host, int(port) if port.isdigit() else 0)
    UDP.Listen(CONTROL, control)
    Dispatcher.InstallHandler(UDP.PacketSend, cast, to_group, first=True, cancel=True)
    Console.Print(f"video_multicast: group port {GROUP}, {len(clients)} clients listed, joins on port {CONTROL}")
