"""A UDP receiver inside the kernel: the in-kernel end of SOSP'95 Table 5's
receive bandwidth (the user_endpoint lesson).

`UDP.Listen` claims PORT (the UDP module makes the guard, ``dst_port ==
PORT``); the handler runs in the network thread with each datagram by
reference -- no trap, no copy -- and only counts it. From the first
datagram to the N-th it sums the bytes of all but the first and reads the
clock at the first and the last, then prints the bandwidth between them
on the console, as scenarios/programs/kernel/udp_serve.c does at user level.
"""

from spin import UDP, Clock, Console

PORT = 9
N = 100  # datagrams to count before printing
CLOCK_MHZ = 133
got = 0
nbytes = 0
first = 0


def count(dgram):
    global got, nbytes, first
    got += 1
    if got == 1:
        first = Clock.Now()
        return
    if got > N:
        return
    nbytes += len(dgram.payload)
    if got == N:
        cycles = Clock.Now() - first
        centi = nbytes * 8 * CLOCK_MHZ * 100 // cycles if cycles else 0
        Console.Print(f"udp_count: {N - 1} datagrams after the first, {nbytes} bytes in {cycles} cycles: "
                      f"{centi // 100}.{centi % 100:02d} Mb/s")  # fmt: skip


def init():
    UDP.Listen(PORT, count)
    Console.Print(f"udp_count: counting UDP port {PORT}")
