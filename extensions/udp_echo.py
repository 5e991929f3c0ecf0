"""A UDP echo server inside the kernel: the in-kernel endpoint of SOSP'95
Table 5.

`UDP.Listen` asks the UDP module for the port; the module installs the
guard (``dst_port == PORT``) on the extension's behalf, so the echo cannot
snoop on other ports. The handler runs in the network thread, in the
kernel, with the datagram by reference: no trap, no copy across the
user/kernel boundary. Load it on a networked machine and send it a
datagram; the Events pane shows the binding under UDP.PacketArrived.

An echo is an amplifier if it answers the wrong datagrams, so it answers
only one sent to this host's own address -- never one to a broadcast or
multicast address, which would make every host answer (RFC 1122 §3.2.2.6's
reasoning for ICMP echo) -- and never one from the port of a service that
answers everything (echo, daytime, quote, chargen, time, or its own
port): two such services, set talking by one spoofed datagram, would
answer each other forever. BSD's inetd refuses them for the same reason
(check_loop). Martian sources (broadcast, multicast, 0.0.0.0, loopback)
never get this far: IP input drops them.
"""

from spin import IP, UDP, Console

PORT = 7  # the echo service; `spinwb` settings may change it
LOOP_PORTS = (7, 13, 17, 19, 37)  # echo, daytime, qotd, chargen, time
echoed = 0
ignored = 0


def echo(dgram):
    """Send the payload straight back to where it came from."""
    global echoed, ignored
    if dgram.dst != IP.Address() or dgram.src_port == PORT or dgram.src_port in LOOP_PORTS:
        ignored += 1
        return
    echoed += 1
    UDP.Send(PORT, dgram.src, dgram.src_port, dgram.payload)


def init():
    UDP.Listen(PORT, echo)
    Console.Print(f"udp_echo: echoing UDP port {PORT}")
