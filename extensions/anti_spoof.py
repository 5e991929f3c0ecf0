"""Refuse to send IP packets whose source is not this host: the send path
is events too, so an extension can interpose (SOSP'95 §5.3: "per-endpoint
PacketSend events overwrite or check the source field").

The binding is First and Cancel on IP.PacketSend: when its guard finds a
forged source, the dispatch stops there and IP's own handler -- the one
that would hand the packet to Ethernet -- never runs.
"""

from spin import IP, Console, Dispatcher

refused = 0


def forged(pkt):
    return pkt.src != IP.Address()


def refuse(pkt):
    global refused
    refused += 1
    Console.Print(f"anti_spoof: refused a packet from {pkt.src} to {pkt.dst}")


def init():
    Dispatcher.InstallHandler(IP.PacketSend, refuse, forged, first=True, cancel=True)
