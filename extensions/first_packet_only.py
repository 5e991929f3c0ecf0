"""A handler that uninstalls itself: keep the handle, give it back.

`InstallHandler` returns a handle to the binding. The extension cannot open
it (it is a capability), but it can pass it back to `Dispatcher.Uninstall`.
Installed with Cancel, this handler also stops the dispatch: bindings after
it in the list do not see the first packet.
"""

from spin import UDP, Console, Dispatcher

handle = None


def first(pkt):
    Console.Print(f"first_packet_only: first packet from port {pkt.src_port}")
    Dispatcher.Uninstall(handle)


def init():
    global handle
    handle = Dispatcher.InstallHandler(UDP.PacketArrived, first, first=True, cancel=True)
