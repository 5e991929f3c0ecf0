"""Extra guards and handlers on UDP.PacketArrived: the dispatch experiment
of SOSP'95 §5.5 ("round trip Ethernet latency ... rises to about 585 µs
when 50 additional guards and handlers register interest in the arrival of
some UDP packet but all 50 guards evaluate to false. When all 50 guards
evaluate to true, latency rises to 637 µs").

With MATCH = 0 every guard asks for a port nobody uses; with MATCH = 1
every guard asks for PORT, so all COUNT handlers run for each datagram.
With INDEXED = 1 the guards are declarative (``Dispatcher.FieldEquals``),
and the dispatcher answers a run of them with one table lookup -- the
optimization the paper planned. `spinwb bench net` loads this with
settings; the handlers only count.
"""

from spin import UDP, Dispatcher

COUNT = 50
MATCH = 0
INDEXED = 0
PORT = 7
calls = 0


def on_port(port, dgram):
    return dgram.dst_port == port


def count(dgram):
    global calls
    calls += 1


def init():
    for i in range(COUNT):
        port = PORT if MATCH else 20000 + i
        if INDEXED:
            Dispatcher.InstallHandler(UDP.PacketArrived, count, Dispatcher.FieldEquals("dst_port", port))
        else:
            Dispatcher.InstallHandler(UDP.PacketArrived, count, on_port, guard_closure=port)
