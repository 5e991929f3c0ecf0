"""TCP against a station that forges segments (issue 16, the TCP half):
each test injects crafted segments on a two-host wire and asserts what a
careful BSD/Linux stack does -- the connection survived, the data is intact
byte for byte, the right answer (a challenge ACK, nothing) went out, the
state was bounded or shed and the drop counted."""

from __future__ import annotations

import random
from typing import Any

from kernel.net import endpoints as E
from kernel.net import packet as P
from kernel.net import tcp as T
from kernel.net.packet import ACK, FIN, PSH, RST, SYN
from kernel.net.topology import Network
from kernel.params import (
    EPHEMERAL,
    TCP_CHALLENGE_ACKS,
    TCP_MAX_RETRIES,
    TCP_OOO_SEGMENTS,
    TCP_RCVBUF,
    TCP_SYNACK_RETRIES,
)
from machine.alpha.abi import ECONNRESET
from tests.net.test_net import pattern, program
from tests.tcp_frames import Peer, Station

A, B = "10.0.0.1", "10.0.0.2"
M32 = 0xFFFF_FFFF


def established(port: int = 5001) -> tuple[Network, Station, T.Tcb, T.Tcb]:
    """A connection from A to B's ``port`` (the client's Tcb, the server's), a station tapping the wire."""
    net = Network(2)
    st = Station(net)
    a, b = net.hosts
    lst = b.net.tcp.listen(port, 4, "test")
    c = a.net.tcp.connect(B, port, "test")
    assert isinstance(lst, T.Tcb) and isinstance(c, T.Tcb)
    assert net.run_until(lambda: c.state == T.ESTABLISHED and bool(lst.accept_queue), 100_000)
    s = lst.accept()
    assert s is not None
    return net, st, c, s


def accepted_from_peer(mss: int = 1460) -> tuple[Network, Station, Any, Peer, T.Tcb]:
    """A scripted peer (10.0.0.9, on the station) connected to A's port 5001 with
    this MSS option: the network, the station, A, the peer, A's accepted Tcb."""
    net = Network(2)
    st = Station(net)
    a = net.hosts[0]
    lst = a.net.tcp.listen(5001, 4, "test")
    assert isinstance(lst, T.Tcb)
    peer = Peer(st, a, "10.0.0.9", 40000, 5001)
    peer.open(net, mss=mss)
    s = lst.accept()
    assert s is not None
    return net, st, a, peer, s


def exchange(net: Network, c: T.Tcb, s: T.Tcb, data: bytes) -> bytes:
    """Send ``data`` from c to s and read it there: what s's reader got."""
    got = bytearray()
    off = 0
    while len(got) < len(data):
        if off < len(data):
            off += max(0, c.send(data[off : off + 8192]))
        net.run_us(2_000)
        while isinstance(d := s.recv(65536), bytes) and d:
            got += d
        assert s.state == T.ESTABLISHED and c.state == T.ESTABLISHED, (c.describe(), s.describe())
    return bytes(got)


def forge(st: Station, victim: T.Tcb, flags: int, seq: int, ack: int | None = None, payload: bytes = b"",
          window: int = 32768) -> None:  # fmt: skip
    """A segment to ``victim`` as if from its peer (a blind attacker's spoofed 4-tuple)."""
    host = victim.tcp.stack.k
    st.tcp(host, victim.raddr, victim.rport, victim.lport, seq, victim.snd_una if ack is None else ack, flags,
           payload, window)  # fmt: skip


def challenge_acks(st: Station, victim: T.Tcb, since: int) -> list[P.TcpSegment]:
    """Pure ACKs the victim sent its peer after frame ``since``."""
    me = victim.tcp.stack.address
    return [s for s in st.segments(me, victim.raddr, since)
            if s.flags == ACK and not len(s.payload) and s.dst_port == victim.rport]  # fmt: skip


# --- RFC 5961 §3: RST ------------------------------------------------------------------------


def test_an_in_window_rst_gets_a_challenge_ack_and_the_connection_lives() -> None:
    """RFC 5961 §3.2: a RST in the window but not at RCV.NXT resets nothing;
    the victim answers with a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>,
    which the real peer (not having reset) takes as a duplicate ACK."""
    net, st, c, s = established()
    b = s.tcp.stack
    mark = len(st.frames)
    for off in (1, 1000, 20_000, s.window - 1):  # a blind sweep of the window
        forge(st, s, RST, s.rcv_nxt + off)
    net.run_us(2_000)
    assert s.state == T.ESTABLISHED and s.error == 0
    acks = challenge_acks(st, s, mark)
    assert len(acks) == 4 and all(x.ack == s.rcv_nxt and x.seq == s.snd_nxt for x in acks)
    assert b.counters["tcp challenge ACKs sent"] == 4
    assert b.counters["TCP: RST in the window, not at RCV.NXT"] == 4
    assert not [x for x in st.segments(A, B, mark) if x.flags & RST]  # the real peer did not answer with a RST
    data = pattern(40_000, seed=3)
    assert exchange(net, c, s, data) == data


def test_a_rst_outside_the_window_is_dropped_without_an_answer() -> None:
    """RFC 5961 §3.2: out of the window a RST is silently discarded."""
    net, st, c, s = established()
    mark = len(st.frames)
    for off in (-1, -5000, s.window + 10, 0x4000_0000):
        forge(st, s, RST, s.rcv_nxt + off)
    net.run_us(2_000)
    assert s.state == T.ESTABLISHED
    assert challenge_acks(st, s, mark) == []
    assert s.tcp.stack.counters["TCP: RST outside the receive window"] == 4


def test_a_rst_at_exactly_rcv_nxt_resets_and_readers_see_econnreset() -> None:
    """RFC 5961 §3.2: only a RST at exactly RCV.NXT resets. The reader gets
    the data that came before it, then -ECONNRESET on every later call --
    never b"", the end of a stream."""
    net, st, c, s = established()
    c.send(b"before the reset")
    net.run_us(2_000)
    forge(st, s, RST, s.rcv_nxt)
    net.run_us(2_000)
    assert s.state == T.CLOSED and s.error == ECONNRESET
    assert s.tcp.stack.counters["tcp resets received"] == 1
    assert s.recv(100) == b"before the reset"
    assert s.recv(100) == -ECONNRESET and s.recv(100) == -ECONNRESET
    assert s.send(b"x") == -ECONNRESET


def test_challenge_acks_are_rate_limited() -> None:
    """RFC 5961 §7: at most TCP_CHALLENGE_ACKS challenge ACKs a virtual second
    per connection, so forged RSTs and SYNs are no amplifier; the limit is per
    connection, not global (no side channel, CVE-2016-5696)."""
    net, st, c, s = established()
    b = s.tcp.stack
    mark = len(st.frames)
    for i in range(200):
        forge(st, s, RST if i % 2 else SYN, s.rcv_nxt + 1 + i)
    st.settle()
    assert len(challenge_acks(st, s, mark)) == TCP_CHALLENGE_ACKS
    assert b.counters["tcp challenge ACKs rate-limited"] == 200 - TCP_CHALLENGE_ACKS
    assert s.state == T.ESTABLISHED
    net.run_us(1_000_000)  # the next virtual second has its own budget
    mark = len(st.frames)
    forge(st, s, RST, s.rcv_nxt + 5)
    net.run_us(2_000)
    assert len(challenge_acks(st, s, mark)) == 1


# --- RFC 5961 §4: SYN ---------------------------------------------------------------------------


def test_a_syn_on_an_established_connection_gets_a_challenge_ack_not_a_reset() -> None:
    """RFC 5961 §4.2: a SYN in (or out of) the window of a synchronized
    connection is answered with a challenge ACK; it neither resets the
    connection nor makes the victim send a RST."""
    net, st, c, s = established()
    mark = len(st.frames)
    forge(st, s, SYN, s.rcv_nxt + 10, ack=0)
    forge(st, s, SYN | ACK, s.rcv_nxt + 3000)
    net.run_us(2_000)
    assert s.state == T.ESTABLISHED and c.state == T.ESTABLISHED
    assert len(challenge_acks(st, s, mark)) == 2
    assert not [x for x in st.segments(B, A, mark) if x.flags & RST]
    assert s.tcp.stack.counters["TCP: SYN on a synchronized connection"] == 2
    data = pattern(20_000, seed=4)
    assert exchange(net, c, s, data) == data


# --- RFC 5961 §5.2: the ACK check -------------------------------------------------------------


def test_a_segment_acking_data_never_sent_is_dropped_with_its_data_and_fin() -> None:
    """RFC 5961 §5.2: a segment whose ACK is above SND.MAX (or below
    SND.UNA - MAX.SND.WND) is dropped with an ACK; its payload and FIN are
    not delivered, so a forged FIN cannot end the stream early."""
    net, st, c, s = established()
    b = s.tcp.stack
    nxt = s.rcv_nxt
    mark = len(st.frames)
    forge(st, s, ACK | PSH | FIN, nxt, ack=s.snd_max + 100_000, payload=b"EVIL")
    forge(st, s, ACK | PSH | FIN, nxt, ack=s.snd_una - s.max_sndwnd - 10, payload=b"EVIL")
    net.run_us(2_000)
    assert s.rcv_nxt == nxt and not s.rcvbuf and not s.eof and s.state == T.ESTABLISHED
    assert b.counters["TCP: ACK for data never sent"] == 1 and b.counters["TCP: ACK below the send window"] == 1
    assert len(challenge_acks(st, s, mark)) == 2
    data = pattern(30_000, seed=5)
    assert exchange(net, c, s, data) == data  # not "EVIL", and not cut short


def test_forged_fins_during_a_transfer_do_not_truncate_it() -> None:
    """The issue's attack: FINs at the receiver's exact RCV.NXT (an attacker
    who somehow knows it) with an ACK for data never sent, injected all
    through a transfer. The in-kernel receiver gets every byte, then the end."""
    net = Network(2)
    st = Station(net)
    a, b = net.hosts
    data = pattern(150_000, seed=6)
    rx: dict[str, Any] = {}
    tx: dict[str, Any] = {}
    b.sched.fork(E.tcp_receive, b, 5001, rx, name="receiver")
    a.sched.fork(E.tcp_transfer, a, B, 5001, data, tx, name="sender")
    while "done" not in rx and net.now < 30_000_000 * 133:
        for victim in list(b.net.tcp.conns.values()):
            if victim.state == T.ESTABLISHED:
                forge(st, victim, ACK | FIN, victim.rcv_nxt, ack=victim.snd_max + 0x1000_0000)
        net.run_us(500)
    assert rx.get("data") == data and "error" not in rx
    assert b.net.counters["TCP: ACK for data never sent"] > 20


# --- resets reach readers ------------------------------------------------------------------------


def _reset_until(net: Network, st: Station, host: Any, port: int, limit: int = 200) -> None:
    """Inject RSTs at the victim's RCV.NXT until one lands (a transfer moves RCV.NXT under it)."""
    for _ in range(limit):
        victims = [t for t in host.net.tcp.conns.values() if t.lport == port and t.state == T.ESTABLISHED]
        if not victims:
            return
        forge(st, victims[0], RST, victims[0].rcv_nxt)
        net.run_us(100)
    raise AssertionError("no reset landed")


def test_the_in_kernel_reader_reports_a_reset_as_econnreset() -> None:
    """endpoints._recv: a reset is -ECONNRESET, not the end of the stream
    (before, the receiver returned a truncated stream as if it were whole)."""
    net = Network(2)
    st = Station(net)
    a, b = net.hosts
    data = pattern(300_000, seed=7)
    rx: dict[str, Any] = {}
    tx: dict[str, Any] = {}
    b.sched.fork(E.tcp_receive, b, 5001, rx, name="receiver")
    a.sched.fork(E.tcp_transfer, a, B, 5001, data, tx, name="sender")
    assert net.run_until(lambda: any(t.lport == 5001 and len(t.rcvbuf) + t.rcv_nxt - t.irs > 50_000
                                     for t in b.net.tcp.conns.values()), 10_000_000)  # fmt: skip
    _reset_until(net, st, b, 5001)
    assert net.run_until(lambda: "done" in rx and "done" in tx, 10_000_000)
    assert rx["error"] == -ECONNRESET and len(rx["data"]) < len(data)
    assert rx["data"] == data[: len(rx["data"])]  # what came before the reset is intact
    assert tx["error"] == -ECONNRESET  # the sender's next segments met a RST that matched


def test_a_socket_reader_gets_econnreset_from_recv() -> None:
    """sockets.py: a user program's recv returns -ECONNRESET after a reset
    (tcp_recv prints the errno), never 0, which tcp_recv would report as a
    short stream intact (the socket layer had this right; it must stay so)."""
    net = Network(2, programs={1: program("tcp_recv", "5001"), 0: program("tcp_send", B, "5001", str(400_000))})
    st = Station(net)
    a, b = net.hosts
    assert net.run_until(lambda: any(t.lport == 5001 and t.rcv_nxt - t.irs > 60_000
                                     for t in b.net.tcp.conns.values()), 20_000_000)  # fmt: skip
    _reset_until(net, st, b, 5001)
    assert net.run_until(lambda: not b.user_strands(), 10_000_000)
    out = bytes(b.machine.console.output).decode()
    assert out.startswith(f"tcp_recv: recv: errno {ECONNRESET} after "), out
    assert "intact" not in out


# --- keyed ISNs and ports ------------------------------------------------------------------------


def _synack_isn(net: Network, st: Station, host: Any, src: str, sport: int, dport: int) -> int:
    mark = len(st.frames)
    st.tcp(host, src, sport, dport, 1234, 0, SYN, mss=1460)
    assert net.run_until(lambda: any(x.flags & SYN for x in st.segments(host.net.address, src, mark)), 200_000)
    synack = next(x for x in st.segments(host.net.address, src, mark) if x.flags & SYN)
    st.tcp(host, src, sport, dport, 1235, synack.seq + 1, RST)  # clean up the half-open entry
    return synack.seq


def _distance(x: int, y: int) -> int:
    d = (x - y) & M32
    return min(d, (1 << 32) - d)


def test_isns_are_keyed_per_4_tuple_and_two_probes_predict_nothing() -> None:
    """RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. An attacker
    probes the listener twice from its own address and extrapolates; the
    third connection, A's, is nowhere near the guess. One 4-tuple's ISNs
    advance with the clock alone; another host's secret differs."""
    net = Network(2)
    st = Station(net, plays=("10.0.0.9",))
    a, b = net.hosts
    b.net.tcp.listen(5001, 8, "test")
    net.run_us(1_000)
    t1 = net.now
    i1 = _synack_isn(net, st, b, "10.0.0.9", 40000, 5001)
    t2 = net.now
    i2 = _synack_isn(net, st, b, "10.0.0.9", 40001, 5001)
    mark = len(st.frames)
    t3 = net.now
    c = a.net.tcp.connect(B, 5001, "victim")
    assert isinstance(c, T.Tcb)
    assert net.run_until(lambda: c.state == T.ESTABLISHED, 200_000)
    i3 = next(x for x in st.segments(B, A, mark) if x.flags & SYN).seq
    step = (i2 - i1) & M32
    clock = (t3 - t2) // T.ISN_TICK
    for guess in ((i2 + step) & M32, (i2 + clock) & M32, (i2 + (t3 - t2) * step // max(1, t2 - t1)) & M32):
        assert _distance(i3, guess) > 1 << 24, (i1, i2, i3)
    assert _distance(i2, (i1 + (t2 - t1) // T.ISN_TICK) & M32) > 1 << 24  # the probes themselves are unrelated
    # the same 4-tuple: the clock alone, 4 µs a tick
    x = b.net.tcp.isn(5001, A, 40000)
    net.run_us(4_000)
    assert (b.net.tcp.isn(5001, A, 40000) - x) & M32 == 1000
    assert _distance(a.net.tcp.isn(5001, A, 40000), b.net.tcp.isn(5001, A, 40000)) > 1 << 24  # per-host secret


def test_ephemeral_ports_are_keyed_and_not_sequential() -> None:
    """RFC 6056 algorithm 4: a keyed offset per destination plus a counter
    with random (seeded) steps: ports say little about how many connections
    came before, differ by destination, and a world replays to the same ones."""

    def ports() -> tuple[list[int], list[int]]:
        net = Network(2)
        a, b = net.hosts
        for p in (5001, 5002):
            b.net.tcp.listen(p, 16, "test")
        to1 = [a.net.tcp.connect(B, 5001, "t") for _ in range(6)]
        to2 = [a.net.tcp.connect(B, 5002, "t") for _ in range(6)]
        return [c.lport for c in to1], [c.lport for c in to2]  # type: ignore[union-attr]

    p1, p2 = ports()
    assert all(p in EPHEMERAL for p in p1 + p2) and len(set(p1 + p2)) == 12
    assert p1[0] != EPHEMERAL.start and [y - x for x, y in zip(p1, p1[1:], strict=False)] != [1] * 5
    assert min(abs(x - y) for x in p1 for y in p2) > 64  # another destination: another region of the range
    assert ports() == (p1, p2)  # deterministic


# --- SYN floods ------------------------------------------------------------------------------------


def test_a_syn_flood_does_not_keep_a_legitimate_client_out() -> None:
    """A flood of SYNs from spoofed sources fills the half-open queue (bounded
    by the backlog); once it is full the listener answers with SYN cookies
    (RFC 4987 §3.6), so the real client's ACK still makes a connection and
    its echo comes back intact. The flood's entries give up after a few
    SYN-ACKs (~3 s), not ~21 s."""
    net = Network(2)
    st = Station(net)
    a, b = net.hosts
    b.sched.fork(E.tcp_echo_server, b, 7, {}, name="echo")
    net.run_us(1_000)
    rng = random.Random(16)
    out: dict[str, Any] = {}
    most = 0
    for i in range(1_500):
        src = f"10.0.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}" if i % 2 else f"10.0.0.{rng.randrange(3, 250)}"
        st.tcp(b, src, rng.randrange(1024, 65536), 7, rng.getrandbits(32), 0, SYN, mss=1460)
        if i == 300:
            a.sched.fork(E.tcp_rtt_client, a, B, 7, 5, 200, out, name="client")
        net.run_us(200)
        most = max(most, len(b.net.tcp.listeners[7].pending))
    assert net.run_until(lambda: "done" in out, 5_000_000)
    assert out["ok"] and len(out["rtts"]) == 5, out
    lst = b.net.tcp.listeners[7]
    assert most == lst.backlog  # bounded
    assert b.net.counters["tcp SYN cookies sent"] > 1_000 and b.net.counters["tcp SYN cookies accepted"] == 1
    net.run_us(3_500_000)
    assert not lst.pending and b.net.counters["tcp half-open connections timed out"] >= lst.backlog


def test_a_half_open_entry_gives_up_after_three_syn_acks() -> None:
    """A SYN from a peer that never completes: the first SYN-ACK and
    TCP_SYNACK_RETRIES more, then the entry is gone (counted), ~3 virtual s."""
    net = Network(2)
    st = Station(net, plays=("10.0.0.9",))
    b = net.hosts[1]
    lst = b.net.tcp.listen(5001, 4, "test")
    assert isinstance(lst, T.Tcb)
    st.tcp(b, "10.0.0.9", 40000, 5001, 99, 0, SYN, mss=1460)
    net.run_us(2_000_000)
    assert len(lst.pending) == 1
    net.run_us(1_500_000)
    assert not lst.pending and not b.net.tcp.conns
    synacks = [x for x in st.segments(B, "10.0.0.9") if x.flags & SYN]
    assert len(synacks) == 1 + TCP_SYNACK_RETRIES
    assert b.net.counters["tcp half-open connections timed out"] == 1


def test_a_forged_cookie_makes_no_connection() -> None:
    """A bare ACK to a listener that sent cookies must carry a valid one
    (2^-21 for a guess); a wrong one gets the RST any stray ACK gets."""
    net = Network(2)
    st = Station(net, plays=("10.0.0.9",))
    b = net.hosts[1]
    lst = b.net.tcp.listen(5001, 1, "test")
    assert isinstance(lst, T.Tcb)
    st.tcp(b, "10.0.0.8", 1, 5001, 5, 0, SYN)  # a silent half-open entry fills the queue
    peer = Peer(st, b, "10.0.0.9", 40000, 5001, isn=555)
    synack = peer.open(net)
    assert b.net.counters["tcp SYN cookies sent"] == 1 and synack.mss == T.MSS
    assert lst.accept() is not None  # the cookie's ACK made the connection
    rng = random.Random(1)
    for i in range(300):
        st.tcp(b, "10.0.0.9", 41000 + i, 5001, 777, rng.getrandbits(32), ACK)
    st.settle()
    assert lst.accept() is None and b.net.counters["tcp SYN cookies accepted"] == 1
    assert b.net.counters["TCP: no connection on the port"] == b.net.counters["tcp resets sent"] == 300
    assert not [t for t in b.net.tcp.conns.values() if t.rport >= 41000]


# --- the out-of-order queue ------------------------------------------------------------------------


def test_out_of_order_data_is_bounded_by_the_window_and_freed_when_passed() -> None:
    """Data beyond RCV.NXT + RCV.WND is cut off; overlapping out-of-order
    segments hold each byte once; all of it stays within the window (with
    the unread data, TCP_RCVBUF at most); pieces RCV.NXT reaches or passes are
    freed; the reader gets exactly the first copy of each byte."""
    net, st, a, peer, s = accepted_from_peer()
    base = peer.snd_nxt
    stream = pattern(TCP_RCVBUF + 34_000, seed=8)
    for i in range(400):  # overlapping pieces, 80 bytes apart from 1000 on, the last ones past the window
        off = 1000 + 80 * i
        peer.send(ACK, stream[off : off + 1400], seq=base + off)
    peer.send(ACK, b"y" * 1000, seq=base + TCP_RCVBUF + 5000)  # wholly beyond the window
    st.settle()
    assert s.ooo_bytes <= TCP_RCVBUF - len(s.rcvbuf) and len(s.ooo) <= TCP_OOO_SEGMENTS
    assert s.ooo_bytes == TCP_RCVBUF - 1000  # one copy of each byte, up to the window's edge and no further
    assert a.net.counters["tcp bytes beyond the window cut off"] > 0
    assert a.net.counters["TCP: segment beyond the receive window"] >= 1
    peer.send(ACK, stream[:1400], seq=base)  # fills the hole and passes the first piece's start
    net.run_us(5_000)
    assert not s.ooo and s.ooo_bytes == 0 and s.rcv_nxt == (base + TCP_RCVBUF) & M32
    got = bytearray()
    while isinstance(d := s.recv(65536), bytes) and d:
        got += d
    assert bytes(got) == stream[:TCP_RCVBUF]


def test_out_of_order_bytes_are_charged_to_the_window() -> None:
    """While out-of-order bytes are held, the window a reader's drain opens is
    TCP_RCVBUF less those bytes (before: all of TCP_RCVBUF, so held plus new data could
    exceed the buffer); the right edge already advertised never moves left,
    so duplicate ACKs stay duplicates for the sender's fast retransmit."""
    net, st, a, peer, s = accepted_from_peer()
    base = peer.snd_nxt
    for off in range(0, 30_000, 1000):
        peer.send(ACK, bytes(1000), seq=base + off)
    st.settle()
    edge = s.window
    assert edge == TCP_RCVBUF - 30_000
    peer.incoming()
    peer.send(ACK, b"z" * 1000, seq=base + 30_500)  # held out of order
    net.run_us(2_000)
    dup = peer.incoming()[-1]
    assert dup.ack == (base + 30_000) & M32 and dup.window == edge  # the edge holds
    assert len(s.recv(65536)) == 30_000  # type: ignore[arg-type]
    net.run_us(2_000)
    update = peer.incoming()[-1]
    assert update.window == TCP_RCVBUF - 1000 == s.window


# --- MSS ----------------------------------------------------------------------------------------------


def _mss_run(mss: int) -> tuple[int, list[int]]:
    """A peer with this MSS option connects and takes 20 000 bytes: the
    engine's MSS and the payload sizes it sent."""
    net, st, a, peer, s = accepted_from_peer(mss=mss)
    data = pattern(20_000, seed=9)
    got = bytearray()
    sizes = []
    s.send(data)
    for _ in range(2_000):
        net.run_us(500)
        for x in peer.incoming():
            if len(x.payload) and x.seq == peer.rcv_nxt:
                got += bytes(x.payload)
                sizes.append(len(x.payload))
                peer.rcv_nxt = (peer.rcv_nxt + len(x.payload)) & M32
        peer.send(ACK)
        if len(got) == len(data):
            break
    assert bytes(got) == data
    return s.mss, sizes


def test_the_peers_mss_is_clamped_to_the_interface_and_floored() -> None:
    """RFC 1122 §4.2.2.6, RFC 9293 §3.7.1: a peer's MSS above what the
    interface carries (1500 - 40) is clamped, so segments still fit a frame
    (before: none ever left); below T.MSS_FLOOR (88, Linux's TCP_MIN_MSS) it is
    floored, so a 1-byte MSS cannot shred a transfer into 20 000 segments;
    no option means 536."""
    mss, sizes = _mss_run(65535)
    assert mss == T.MSS == 1460 and max(sizes) == 1460
    mss, sizes = _mss_run(1)
    assert mss == T.MSS_FLOOR and max(sizes) == T.MSS_FLOOR and len(sizes) < 20_000 // T.MSS_FLOOR + 5
    assert _mss_run(0)[0] == 536
    assert T.clamp_mss(9000) == 1460 and T.clamp_mss(1200) == 1200


# --- persist --------------------------------------------------------------------------------------


def test_a_zero_window_peer_that_answers_probes_is_kept_open() -> None:
    """RFC 1122 §4.2.2.17: a receiver that keeps its window shut but answers
    every probe is probed forever, the interval backing off to
    T.PERSIST_MAX; when it reads, the transfer completes intact (before: it
    was dropped after 12 probes)."""
    net, st, c, s = established()
    a = c.tcp.stack
    data = pattern(120_000, seed=10)
    off = 0
    for _ in range(100):
        off += max(0, c.send(data[off:]))
        net.run_us(10_000)
    assert s.window == 0 and c.snd_wnd == 0
    net.run_us(40_000_000)
    assert c.state == T.ESTABLISHED and c.error == 0
    assert a.counters["tcp window probes"] > TCP_MAX_RETRIES
    probes = [t for t, x in st.timed(A, B) if len(x.payload) == 1]
    gaps = [y - x for x, y in zip(probes, probes[1:], strict=False)]
    assert max(gaps) <= T.PERSIST_MAX + 133_000 and gaps[-1] >= T.PERSIST_MAX - 133_000
    got = bytearray()
    while len(got) < len(data):
        while isinstance(d := s.recv(65536), bytes) and d:
            got += d
        off += max(0, c.send(data[off:]))
        net.run_us(5_000)
    assert bytes(got) == data


def test_a_window_that_closes_with_data_in_flight_is_probed() -> None:
    """The peer acknowledges part of what is in flight and shuts its window:
    the sender probes (one byte at SND.UNA) instead of going back and
    sending nothing until it gives up; when the window opens all of it arrives."""
    net, st, a, peer, s = accepted_from_peer()
    data = pattern(10_000, seed=11)
    s.send(data)
    net.run_us(3_000)
    first = peer.incoming()
    assert len(first) >= 2 and first[0].seq == peer.rcv_nxt  # two segments in flight
    peer.rcv_nxt = (peer.rcv_nxt + len(first[0].payload)) & M32
    peer.send(ACK, window=0)  # takes the first, shuts the window with the second in flight
    got = bytearray(first[0].payload)
    probes = 0
    for _ in range(15):  # answer every probe with a shut window, for more than TCP_MAX_RETRIES probes' worth
        net.run_us(1_000_000)
        for x in peer.incoming():
            if len(x.payload) == 1 and x.seq == peer.rcv_nxt:
                probes += 1
                peer.send(ACK, window=0)
    assert probes >= 8 and s.state == T.ESTABLISHED
    peer.send(ACK, window=32768)
    for _ in range(200):
        net.run_us(2_000)
        for x in peer.incoming():
            if len(x.payload) and x.seq == peer.rcv_nxt:
                got += bytes(x.payload)
                peer.rcv_nxt = (peer.rcv_nxt + len(x.payload)) & M32
        peer.send(ACK)
        if len(got) >= len(data):
            break
    assert bytes(got) == data


# --- simultaneous open, TIME_WAIT, broadcast -------------------------------------------------------


def test_a_simultaneous_open_completes() -> None:
    """RFC 9293 §3.5, figure 8: both ends send SYN, both go SYN-SENT ->
    SYN-RECEIVED -> ESTABLISHED on the other's SYN-ACK, and data flows both ways."""
    net = Network(2)
    st = Station(net)
    a, b = net.hosts
    a.net.ping(B, 1)
    net.run_us(20_000)  # ARP both ways first, so the two SYNs cross on the wire
    ca = a.net.tcp.connect(B, 6000, "a", lport=5000)
    cb = b.net.tcp.connect(A, 5000, "b", lport=6000)
    assert isinstance(ca, T.Tcb) and isinstance(cb, T.Tcb)
    net.run_us(5_000)
    assert ca.state == cb.state == T.ESTABLISHED
    flags = [x.flags & (SYN | ACK) for x in st.segments() if x.flags & SYN]
    assert flags.count(SYN) == 2 and flags.count(SYN | ACK) == 2  # figure 8's four segments
    assert a.net.counters["tcp resets sent"] == b.net.counters["tcp resets sent"] == 0
    assert exchange(net, ca, cb, b"from a" * 1000) == b"from a" * 1000
    assert exchange(net, cb, ca, b"from b" * 1000) == b"from b" * 1000


def test_a_rst_in_time_wait_is_ignored() -> None:
    """RFC 1337: TIME_WAIT assassination -- a RST (even at exactly RCV.NXT)
    does not cut TIME_WAIT short; it lasts its 2 MSL."""
    net, st, c, s = established()
    c.close()
    net.run_us(2_000)
    s.close()
    net.run_us(2_000)
    assert c.state == T.TIME_WAIT
    forge(st, c, RST, c.rcv_nxt)
    forge(st, c, RST | ACK, c.rcv_nxt)
    net.run_us(2_000)
    assert c.state == T.TIME_WAIT and c.tcp.stack.counters["TCP: RST in TIME_WAIT (RFC 1337)"] == 2
    net.run_us(2 * T.MSL // 133)
    assert c.state == T.CLOSED


def test_a_syn_to_a_broadcast_or_multicast_address_opens_nothing() -> None:
    """RFC 1122 §4.2.3.10: a SYN to a broadcast or multicast address is
    discarded silently (before: a half connection on every host that got
    it), and so is one from such a source; no SYN-ACK, no RST."""
    net = Network(2)
    st = Station(net)
    a, b = net.hosts
    lsts = [h.net.tcp.listen(5001, 4, "test") for h in (a, b)]
    for dst in ("255.255.255.255", "10.0.0.255", "224.0.0.1"):
        st.tcp(b, "10.0.0.9", 40000, 5001, 1, 0, SYN, dst=dst, dst_mac=P.BROADCAST)
    for src in ("255.255.255.255", "10.0.0.255", "224.0.0.1", "0.0.0.0"):
        st.tcp(b, src, 40000, 5001, 1, 0, SYN)
    st.settle(20_000)
    assert all(not lst.pending for lst in lsts) and not a.net.tcp.conns and not b.net.tcp.conns  # type: ignore[union-attr]
    assert not st.segments(src=A) and not st.segments(src=B)  # not a SYN-ACK, not a RST
    assert b.net.counters["dropped"] >= 7 and a.net.counters["dropped"] >= 3  # at IP or at TCP, each counted
    # TCP's own check, whatever IP lets up (IP accepts 255.255.255.255 today, may accept more tomorrow)
    tcp = b.net.tcp
    for src, dst in (("10.0.0.9", "255.255.255.255"), ("10.0.0.9", "10.0.0.255"), ("10.0.0.9", "224.0.0.1"),
                     ("10.0.0.9", "239.1.2.3"), ("255.255.255.255", B), ("10.0.0.255", B), ("224.0.0.5", B),
                     ("0.0.0.0", B)):  # fmt: skip
        tcp._input_segment(P.TcpSegment(0, src, dst, 40000, 5001, 1, 0, SYN, 1000, 1460, memoryview(b""), None))  # type: ignore[arg-type]
    assert not lsts[1].pending and not tcp.conns  # type: ignore[union-attr]
    assert b.net.counters["TCP: segment to a broadcast or multicast address"] >= 4
    assert b.net.counters["TCP: segment from a broadcast or multicast source"] >= 4
    assert not st.segments(src=B)


# --- the echo server's short sends ------------------------------------------------------------------


def test_the_echo_server_keeps_what_a_short_send_left() -> None:
    """endpoints.tcp_echo_server: when send() takes less than it was given
    (the send buffer is full) the rest waits for room; 200 KB echo back
    byte for byte (before: whatever did not fit was lost)."""
    net = Network(2)
    a, b = net.hosts
    b.sched.fork(E.tcp_echo_server, b, 7, {}, name="echo")
    net.run_us(1_000)
    data = pattern(200_000, seed=12)
    out: dict[str, Any] = {"got": bytearray()}
    conn: dict[str, T.Tcb] = {}

    def writer(k: Any) -> None:
        c = E._connect(k, B, 7, "writer")
        assert isinstance(c, T.Tcb)
        conn["c"] = c
        out["sent"] = E._send_all(k, c, data)

    def reader(k: Any) -> None:  # forked once the writer has connected
        c = conn["c"]
        while len(out["got"]) < len(data):
            d = E._recv(k, c, 65536)
            assert isinstance(d, bytes) and d
            out["got"] += d
        out["done"] = True

    a.sched.fork(writer, a, name="writer")
    assert net.run_until(lambda: "c" in conn, 100_000)
    a.sched.fork(reader, a, name="reader")
    assert net.run_until(lambda: "done" in out, 30_000_000)
    assert bytes(out["got"]) == data and out["sent"] == 0
    assert not a.sched.failures and not b.sched.failures


# --- all of it at once ---------------------------------------------------------------------------------


def _blind(st: Station, rng: random.Random, victim: T.Tcb, port: int) -> None:
    """One forgery a blind attacker could make against ``victim`` (it knows
    the 4-tuple, guesses the rest): never a RST at exactly RCV.NXT, never an
    ACK in the acceptable range."""
    wnd = max(victim.window, 2)
    host = victim.tcp.stack.k
    kind = rng.randrange(5)
    bad_ack = (victim.snd_max + 1 + rng.randrange(1 << 30)) if rng.random() < 0.5 else \
        (victim.snd_una - victim.max_sndwnd - 1 - rng.randrange(1 << 30))  # fmt: skip
    if kind == 0:
        forge(st, victim, RST | (ACK if rng.random() < 0.5 else 0), victim.rcv_nxt + 1 + rng.randrange(wnd - 1))
    elif kind == 1:
        forge(st, victim, SYN | (ACK if rng.random() < 0.5 else 0), rng.getrandbits(32), ack=rng.getrandbits(32))
    elif kind == 2:
        flags = ACK | PSH | (FIN if rng.random() < 0.3 else 0)
        forge(st, victim, flags, victim.rcv_nxt + rng.randrange(wnd), ack=bad_ack, payload=rng.randbytes(500))
    elif kind == 3:
        forge(st, victim, ACK, victim.rcv_nxt, ack=bad_ack, window=0)  # try to shut the sender's window
    else:
        st.tcp(host, victim.raddr, rng.randrange(1024, 65536), port, rng.getrandbits(32), rng.getrandbits(32), ACK)


def test_a_blind_forgers_mix_during_a_transfer_changes_nothing() -> None:
    """RSTs and SYNs in the window, data and FINs with guessed ACKs, window
    shutters, guessed SYN cookies -- at both ends, all through a 200 KB
    transfer: every byte arrives once and in order, nothing raises, each
    forgery is a counted drop."""
    net = Network(2)
    st = Station(net)
    a, b = net.hosts
    data = pattern(200_000, seed=13)
    rx: dict[str, Any] = {}
    tx: dict[str, Any] = {}
    b.sched.fork(E.tcp_receive, b, 5001, rx, name="receiver")
    a.sched.fork(E.tcp_transfer, a, B, 5001, data, tx, name="sender")
    rng = random.Random(2024)
    forged = 0
    while "done" not in rx and net.now < 20_000_000 * 133:
        for victim in [*b.net.tcp.conns.values(), *a.net.tcp.conns.values()]:
            if victim.state == T.ESTABLISHED:
                _blind(st, rng, victim, 5001)
                forged += 1
        net.run_us(300)
    assert rx.get("data") == data and "error" not in rx and "error" not in tx
    assert forged > 400
    for k in (a, b):
        stats = k.net.stats()
        assert not [r for r in stats if r.startswith("stack: internal error")], stats
        assert not k.sched.failures
    drops = sum(v for h in (a, b) for r, v in h.net.counters.items() if r.startswith("TCP: "))
    assert drops >= forged * 0.9  # each forgery a counted drop (a few were lost to the wire's pace)
