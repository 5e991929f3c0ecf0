"""A UDP echo server inside the kernel: the in-kernel endpoint of SOSP'95
Table 5.

`UDP.Listen` asks the UDP module for the port; the module installs the
guard (``dst_port == PORT``) on the extension's behalf, so the echo cannot
snoop on other ports. The handler runs in the network thread, in the
kernel, with the datagram by reference: no trap, no copy across the
user/kernel boundary. Load it on a networked machine and send it a
datagram; the Events pane shows the binding under UDP.PacketArrived.
"""

from spin import UDP, Console

PORT = 7  # the echo service; `spinwb` settings may change it
echoed = 0


def echo(dgram):
    """Send the payload straight back to where it came from."""
    global echoed
    echoed += 1
    UDP.Send(PORT, dgram.src, dgram.src_port, dgram.payload)


def init():
    UDP.Listen(PORT, echo)
    Console.Print(f"udp_echo: echoing UDP port {PORT}")
