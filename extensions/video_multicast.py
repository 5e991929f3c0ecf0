"""The video server's third extension (SOSP'95 §5.4): a handler on the
send event that turns one send into a multicast to a list of clients.

The handler is installed on UDP.PacketSend, First and Cancel, guarded by
``dst_port == GROUP`` to this host's own address: the sender's datagrams to the group never reach
UDP's own handler; instead ``Multicast.Send`` takes the datagram down the
rest of the graph once -- one UDP header and checksum over the payload,
one IP header -- and hands the driver one copy per client
(kernel/net/multicast.py). That is why SPIN's server in Figure 6 uses
half the processor of one that sends each packet once per client.

Clients: CLIENTS lists some ("a.b.c.d:port,..."); others join from their
own address in two datagrams to CONTROL, so that a forged source cannot
simply point a 3 Mb/s stream at a victim (a return-routability check,
like a SYN cookie): ``b"JOIN"`` + u16 port (big-endian) is answered to that address
and port with ``b"OFFER"`` + a 4-byte cookie, and only ``b"JOIN"`` + port +
that cookie adds the client. ``b"LEAVE"`` + port + the cookie leaves, so a
forged LEAVE cannot drop anyone either. At most MAX_CLIENTS clients and
MAX_OFFERS offers outstanding (the oldest offer is forgotten first);
anything else sent there -- malformed, duplicate, a full list, a wrong
cookie -- is counted and ignored. Loaded as the machine's owner (First and
Cancel need the right).

What the cookie stops, and what it does not: a sender forging another
host's address never sees the OFFER (it goes to that host), so it must
guess the cookie. The cookie is not secret, though: it is the virtual
cycle counter, a count of offers and the client's address through a fixed
mix, and in this deterministic emulator virtual time is predictable, so
someone who knows the seed and the timing can compute it. A real server
would make it a keyed hash (an HMAC) of the address, port and time under
a secret it keeps; extensions here have no secret source to draw one from.

GROUP, CONTROL and MAX_CLIENTS are kernel/net/videoworld.py's, passed as
load settings from there (extensions import only ``spin``); these
defaults are the same (tests/video_server checks).
"""

from spin import IP, UDP, Clock, Console, Dispatcher, Multicast

GROUP = 5000
CONTROL = 5005
CLIENTS = ""
MAX_CLIENTS = 32
MAX_OFFERS = 64

clients = []
offers = {}  # (address, port) -> the cookie offered, oldest first
cookies = {}  # (address, port) -> the cookie a joined client leaves with
offered = 0
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


def cookie_for(addr, port):
    """Four bytes an off-path sender does not see and must guess: the cycle
    counter when the JOIN came, mixed with the address, the port and a
    count. Predictable to whoever knows the emulator's seed and timing (a
    real server would use a keyed hash of a secret): see the module's note."""
    global offered
    offered += 1
    h = Clock.Now() * 2654435761 + offered * 40503 + port
    for ch in addr:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    return bytes([(h >> 24) & 255, (h >> 16) & 255, (h >> 8) & 255, h & 255])


def offer(addr, port):
    global refused
    c = (addr, port)
    if port <= 0 or c in clients:
        refused += 1
        return
    if c not in offers and len(offers) >= MAX_OFFERS:
        del offers[next(iter(offers))]
    offers[c] = cookie_for(addr, port)
    UDP.Send(CONTROL, addr, port, b"OFFER" + offers[c])


def control(d):
    global leaves, refused
    p = bytes(d.payload[0:16])
    c = (d.src, (p[4] << 8) | p[5]) if len(p) >= 6 else None
    if d.dst != IP.Address():
        refused += 1
    elif len(p) == 6 and p[0:4] == b"JOIN":
        offer(c[0], c[1])
    elif len(p) == 10 and p[0:4] == b"JOIN" and offers.get(c) == p[6:10]:
        del offers[c]
        before = len(clients)
        add(c[0], c[1])
        if len(clients) > before:
            cookies[c] = p[6:10]
    elif len(p) == 11 and p[0:5] == b"LEAVE":
        c = (d.src, (p[5] << 8) | p[6])
        if c in clients and cookies.get(c) == p[7:11]:
            clients.remove(c)
            del cookies[c]
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
