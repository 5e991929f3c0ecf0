"""Count the UDP packets that arrive for port 53 (DNS).

The smallest useful extension: a guard that selects packets and a handler
that acts on them, installed on the event the UDP module raises for every
datagram (SOSP'95 §5.3, Fig. 5). The guard runs for every UDP packet, so it
only compares; the handler does the work. Load it and watch the Events pane:
the binding appears under UDP.PacketArrived with its call count.
"""

from spin import UDP, Console, Dispatcher

count = 0  # this extension's own state: only its own functions can change it


def is_dns(pkt):
    """The guard: true for datagrams to port 53. Guards must not change
    anything (the papers require them to be side-effect free)."""
    return pkt.dst_port == 53


def on_dns(pkt):
    """The handler: runs only when the guard said yes."""
    global count
    count += 1
    Console.Print(f"dns_counter: {count} DNS datagrams so far")


def init():
    """Runs once, after the linker has resolved `UDP`, `Console` and
    `Dispatcher` against SpinPublic."""
    Dispatcher.InstallHandler(UDP.PacketArrived, on_dns, is_dns)
