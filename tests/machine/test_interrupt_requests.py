"""Interrupt requests: every device's is kept until it is taken or cleared.

The disk and the Lance share IPL 3 (alpha-machine.md §3.3: levels 3-4 are
devices). On the 21064 their interrupt lines are level-sensitive, so
neither can erase the other's request; the PAL (machine/alpha/pal.py)
keeps one per device at each level and enters entInt for each, the
oldest first. A PAL that kept one request a level lost the disk's
completion or the card's interrupt when both came in one window (issue
20's video server stalled on it).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kernel.fs.format import build_image
from kernel.kernel import Kernel
from kernel.net import packet as P
from kernel.net.topology import Network
from machine.alpha.asm import assemble
from machine.alpha.constants import KSEG_BASE
from machine.alpha.pal import ENT_INT, OsfPal
from machine.disk import BLOCK, CMD_READ, DISK_IPL, DISK_VECTOR, R_BLOCK, R_CMD, R_COUNT, R_DMA
from machine.elf import parse_elf
from machine.fields import Misfit
from machine.machine import Machine
from machine.nic import NIC_IPL, NIC_VECTOR, OWNED, R_RX_COUNT, R_RX_RING, Wire
from machine.timer import CLOCK_IPL, CLOCK_VECTOR

IDLE = "\t.text\n_start:\tclr $16\n\tcall_pal 0x35\n1:\tcall_pal 0x3e\n\tbr 1b\n"  # swpipl 0; wtint loop
DEVICE = 3  # entInt type: device
RING, BUFFERS, DMA = 0x20000, 0x30000, 0x60000
MAC = 0x08002B000001
LEVEL = DISK_IPL  # the level the disk and the card share


def machine(disk: bytes | None = None, nic: bool = False) -> tuple[Machine, list[tuple[int, int]]]:
    """An idle kernel at IPL 0 whose entInt records (type, vector) and returns."""
    m = Machine(2 << 20)
    m.load_kernel(parse_elf(assemble(IDLE, "idle.s", text_base=KSEG_BASE + 0x10120)))
    seen: list[tuple[int, int]] = []

    def on_int(pal: OsfPal, entry: int) -> None:
        seen.append((pal.cpu.r[16], pal.cpu.r[17]))
        pal.rti()

    m.pal.entries[ENT_INT] = on_int
    if disk is not None:
        m.attach_disk(disk)
    if nic:
        card = m.attach_nic(MAC)
        for i in range(4):
            m.memory.write_q(RING + 16 * i, BUFFERS + 1536 * i)
            m.memory.write_q(RING + 16 * i + 8, OWNED)
        card.page[R_RX_RING], card.page[R_RX_COUNT] = RING, 4
        Wire().attach(card)
    m.run(until_cycle=1000)
    seen.clear()
    return m, seen


def devices(seen: list[tuple[int, int]]) -> list[int]:
    return [v for k, v in seen if k == DEVICE]


# --- the PAL's bookkeeping ------------------------------------------------------------------


def test_the_disk_and_the_card_share_a_level() -> None:
    """What every test below is about (alpha-machine.md §3.3: IPL 3-4 are devices)."""
    assert DISK_IPL == NIC_IPL == LEVEL == 3 and DISK_VECTOR != NIC_VECTOR


@pytest.mark.parametrize("first, second", [(DISK_VECTOR, NIC_VECTOR), (NIC_VECTOR, DISK_VECTOR)])
def test_two_devices_at_one_level_are_both_delivered_oldest_first(first: int, second: int) -> None:
    m, seen = machine()
    m.pal.ps = 7  # masked while both post, as when they come in one window
    m.pal.post_interrupt(LEVEL, DEVICE, first)
    m.pal.post_interrupt(LEVEL, DEVICE, second)
    assert m.pal.requests() == [(LEVEL, DEVICE, first), (LEVEL, DEVICE, second)]
    m.pal.ps = 0
    m.run(until_cycle=m.cpu.cycles + 10_000)
    assert devices(seen) == [first, second]
    assert not m.pal.pending and m.pal.counts[ENT_INT] == 2


def test_a_device_asking_again_is_still_one_request() -> None:
    """Its line is already asserted: a second post changes nothing, not even its place."""
    m, seen = machine()
    m.pal.ps = 7
    for v in (NIC_VECTOR, DISK_VECTOR, NIC_VECTOR):
        m.pal.post_interrupt(LEVEL, DEVICE, v)
    assert m.pal.requests() == [(LEVEL, DEVICE, NIC_VECTOR), (LEVEL, DEVICE, DISK_VECTOR)]
    m.pal.ps = 0
    m.run(until_cycle=m.cpu.cycles + 10_000)
    assert devices(seen) == [NIC_VECTOR, DISK_VECTOR]


def test_clearing_a_request_removes_only_that_devices() -> None:
    m, seen = machine()
    m.pal.ps = 7
    m.pal.post_interrupt(LEVEL, DEVICE, DISK_VECTOR)
    m.pal.post_interrupt(LEVEL, DEVICE, NIC_VECTOR)
    assert m.pal.clear_interrupt(LEVEL, DISK_VECTOR)
    assert not m.pal.clear_interrupt(LEVEL, DISK_VECTOR) and not m.pal.clear_interrupt(4, NIC_VECTOR)
    assert m.pal.requests() == [(LEVEL, DEVICE, NIC_VECTOR)]
    m.pal.ps = 0
    m.run(until_cycle=m.cpu.cycles + 10_000)
    assert devices(seen) == [NIC_VECTOR]
    assert m.pal.clear_interrupt(LEVEL, NIC_VECTOR) is False and m.pal.pending == {}


def test_the_highest_level_goes_first_and_a_masked_level_waits() -> None:
    m, seen = machine()
    m.pal.ps = 7
    m.pal.post_interrupt(LEVEL, DEVICE, DISK_VECTOR)
    m.pal.post_interrupt(CLOCK_IPL, 1, CLOCK_VECTOR)
    m.pal.post_interrupt(LEVEL, DEVICE, NIC_VECTOR)
    m.pal.ps = LEVEL  # the level the two devices share is masked; the clock's is not
    assert m.pal.take_interrupt() and seen == [(1, CLOCK_VECTOR)]
    assert not m.pal.take_interrupt() and m.pal.requests() == [
        (LEVEL, DEVICE, DISK_VECTOR),
        (LEVEL, DEVICE, NIC_VECTOR),
    ]


# --- devices posting in one window ----------------------------------------------------------


def _frame(n: int, tag: int) -> bytes:
    head = MAC.to_bytes(6, "big") + (0x08002B000002).to_bytes(6, "big") + b"\x88\xb5"
    return head + bytes((tag + i) & 0xFF for i in range(n - len(head)))


@pytest.mark.parametrize("nic_first", [False, True])
def test_a_disk_completion_and_a_frame_in_the_same_cycle_both_interrupt(nic_first: bool) -> None:
    image = bytes(i * 13 & 0xFF for i in range(64 * BLOCK))
    m, seen = machine(disk=image, nic=True)
    regs = m.disk.page  # type: ignore[union-attr]
    regs[R_BLOCK], regs[R_COUNT], regs[R_DMA] = 5, 2, DMA
    regs[R_CMD] = CMD_READ
    ((done, order, _, args),) = m.events_of("disk")
    wire, nic = m.nic.wire, m.nic  # type: ignore[union-attr]
    assert wire is not None and nic is not None
    wire.next_id += 1
    wire.in_flight[wire.next_id] = _frame(100, 7)
    nic.arrive(done, wire.next_id)  # the frame lands in the very cycle the transfer ends
    if nic_first:  # ties go in event order: put the card's first
        m.set_events("nic", [(done, order, "rx", (wire.next_id,))])
        m.set_events("disk", [(done, m.event_order + 1, "done", tuple(args))])
        m.event_order += 1
    m.run(until_cycle=done + 10_000)
    assert sorted(devices(seen)) == [DISK_VECTOR, NIC_VECTOR]
    assert devices(seen)[0] == (NIC_VECTOR if nic_first else DISK_VECTOR)  # the oldest request first
    assert m.memory.read(DMA, 2 * BLOCK) == image[5 * BLOCK : 7 * BLOCK]
    assert m.memory.read(BUFFERS, 100) == _frame(100, 7) and nic.received == 1


# --- saved state ------------------------------------------------------------------------------


def test_one_request_a_level_saves_as_it_always_did() -> None:
    """The format of states saved before: [[ipl, type, vector], ...] by level."""
    m, _ = machine()
    m.pal.ps = 7
    m.pal.post_interrupt(CLOCK_IPL, 1, CLOCK_VECTOR)
    m.pal.post_interrupt(LEVEL, DEVICE, DISK_VECTOR)
    assert m.save_state()["pal"]["pending"] == [[LEVEL, DEVICE, DISK_VECTOR], [CLOCK_IPL, 1, CLOCK_VECTOR]]


def test_requests_at_one_level_save_and_load_in_their_order() -> None:
    m, _ = machine()
    m.pal.ps = 7
    m.pal.post_interrupt(LEVEL, DEVICE, NIC_VECTOR)
    m.pal.post_interrupt(LEVEL, DEVICE, DISK_VECTOR)
    saved = m.save_state()
    assert saved["pal"]["pending"] == [[LEVEL, DEVICE, NIC_VECTOR], [LEVEL, DEVICE, DISK_VECTOR]]
    back, seen = machine()
    back.load_state(copy.deepcopy(saved))
    assert back.state_hash() == m.state_hash() and back.pal.requests() == m.pal.requests()
    swapped: dict[str, Any] = copy.deepcopy(saved)
    swapped["pal"]["pending"].reverse()
    other, _ = machine()
    other.load_state(swapped)
    assert other.state_hash() != m.state_hash()  # the order decides what runs next: it is state
    back.pal.ps = 0
    back.run(until_cycle=back.cpu.cycles + 10_000)  # the loading machine keeps its Python handler
    assert devices(seen) == [NIC_VECTOR, DISK_VECTOR]


@pytest.mark.parametrize(
    "pending, message",
    [
        ([[3, 3, 0x800], [3, 3, 0x800]], r"pal.pending\[1\]: vector 0x800 is requested twice at interrupt level 3"),
        ([[40, 3, 0x800]], r"pal.pending\[0\]: interrupt level 40 is not 0..31"),
        ([[3, 3]], r"pal.pending\[0\]"),
    ],
)
def test_a_bad_saved_request_is_refused_naming_it(pending: list[list[int]], message: str) -> None:
    m, _ = machine()
    saved = m.save_state()
    saved["pal"]["pending"] = pending
    before = m.state_hash()
    with pytest.raises(Misfit, match=message):
        m.load_state(saved)
    assert m.state_hash() == before


# --- the kernel's drivers under both devices -----------------------------------------------


def _hosts(files: dict[str, bytes]) -> tuple[Network, Kernel, Kernel]:
    net = Network(2, disks={0: build_image(files)})
    k, peer = net.hosts
    assert k.net is not None and peer.net is not None
    k.net.arp_cache[peer.net.address] = peer.net.mac
    peer.net.arp_cache[k.net.address] = k.net.mac
    return net, k, peer


def _collisions(m: Machine) -> list[int]:
    """Counts posts made while another device's request waited at that level."""
    hits = [0]
    post = m.pal.post_interrupt

    def counting(ipl: int, kind: int, vector: int) -> None:
        if any(v != vector for v in m.pal.pending.get(ipl, {})):
            hits[0] += 1
        post(ipl, kind, vector)

    m.pal.post_interrupt = counting  # type: ignore[method-assign]
    return hits


def _udp_frame(src: Kernel, dst: Kernel, sport: int, dport: int, payload: bytes) -> bytes:
    a, b = src.net, dst.net
    assert a is not None and b is not None
    udp = P.udp(a.address, b.address, sport, dport, payload)
    return P.ether(b.mac, a.mac, 0x0800, P.ip(a.address, b.address, P.PROTO_UDP, udp, 99))


def _arrive_with_the_disk(net: Network, k: Kernel, frame: bytes, nic_first: bool) -> None:
    """The frame reaches ``k``'s card in the very cycle its disk transfer
    ends, the card's event first or second (ties go in event order)."""
    m = k.machine
    ((done, order, _, args),) = m.events_of("disk")
    net.wire.next_id += 1
    net.wire.in_flight[net.wire.next_id] = frame
    m.nic.arrive(done, net.wire.next_id)  # type: ignore[union-attr]
    if nic_first:  # the frame's event takes the disk's place in the order; the disk's goes after it
        mine = m.event_order
        m.set_events("nic", [(c, order if o == mine else o, kind, tuple(a)) for c, o, kind, a in m.events_of("nic")])
        m.event_order += 1
        m.set_events("disk", [(done, m.event_order, "done", tuple(args))])


def _end_with_the_card(k: Kernel, nic_first: bool) -> None:
    """The disk transfer ends in the cycle the card finishes sending."""
    m = k.machine
    ((_, order, _, args),) = m.events_of("disk")
    ((cycle, tx_order, _, _),) = [e for e in m.events_of("nic") if e[2] == "tx_done"]
    m.event_order += 1
    m.set_events("disk", [(cycle, m.event_order if nic_first else min(order, tx_order) - 1, "done", tuple(args))])


@pytest.mark.parametrize("nic_first", [False, True])
def test_the_disk_read_completes_and_the_frame_is_received(nic_first: bool) -> None:
    data = bytes(i * 31 & 0xFF for i in range(20_000))
    net, k, peer = _hosts({"movie.bin": data})
    assert k.fs is not None and k.net is not None
    net.run_us(2_000)
    datagrams: list[bytes] = []
    k.net.udp.bind(7000, "test sink", lambda d: datagrams.append(bytes(d.payload)))
    got: list[bytes | int] = []
    k.fs.read_direct(k.fs.files["movie.bin"], 0, 16_384, got.append)
    _arrive_with_the_disk(net, k, _udp_frame(peer, k, 7001, 7000, b"same window"), nic_first)
    hits = _collisions(k.machine)
    assert net.run_until(lambda: bool(got) and bool(datagrams), limit_us=200_000), (got, datagrams)
    assert hits[0] == 1  # the two requests really were pending together
    assert got == [data[:16_384]] and datagrams == [b"same window"]


@pytest.mark.parametrize("nic_first", [False, True])
def test_the_disk_read_completes_and_the_card_goes_on_sending(nic_first: bool) -> None:
    data = bytes(i * 31 & 0xFF for i in range(20_000))
    net, k, peer = _hosts({"movie.bin": data})
    assert k.fs is not None and k.net is not None and peer.net is not None
    net.run_us(2_000)
    datagrams: list[bytes] = []
    peer.net.udp.bind(7002, "test sink", lambda d: datagrams.append(bytes(d.payload)))
    got: list[bytes | int] = []
    k.fs.read_direct(k.fs.files["movie.bin"], 0, 16_384, got.append)
    for i in range(3):  # one on the wire, two queued behind its transmit-done
        assert k.net.udp.send(7003, peer.net.address, 7002, b"out %d" % i) == 0
    _end_with_the_card(k, nic_first)
    hits = _collisions(k.machine)
    assert net.run_until(lambda: bool(got) and len(datagrams) == 3, limit_us=200_000), (got, datagrams)
    assert hits[0] >= 1
    assert got == [data[:16_384]] and datagrams == [b"out 0", b"out 1", b"out 2"]


def test_many_frames_both_ways_while_disk_transfers_complete() -> None:
    """A file read chunk after chunk while the peer sends to the host and the
    host sends back; each chunk's transfer ends as a frame arrives or as the
    card finishes a send, in both orders. Every read completes with its
    data, every datagram arrives both ways, the card's queue never stalls."""
    data = bytes((i * 7 + i // 4096) & 0xFF for i in range(160_000))
    net, k, peer = _hosts({"big.bin": data})
    assert k.fs is not None and k.net is not None and peer.net is not None
    net.run_us(2_000)
    inbound: list[bytes] = []
    outbound: list[bytes] = []
    k.net.udp.bind(7000, "test sink", lambda d: inbound.append(bytes(d.payload)))
    peer.net.udp.bind(7002, "test sink", lambda d: outbound.append(bytes(d.payload)))
    hits = _collisions(k.machine)
    reads: list[bytes | int] = []
    want_in: list[bytes] = []
    want_out: list[bytes] = []

    def send_in(payload: bytes) -> None:
        assert peer.net is not None and k.net is not None
        assert peer.net.udp.send(7001, k.net.address, 7000, payload) == 0
        want_in.append(payload)

    def send_out(payload: bytes) -> None:
        assert peer.net is not None and k.net is not None
        assert k.net.udp.send(7003, peer.net.address, 7002, payload) == 0
        want_out.append(payload)

    chunk = 8192
    offsets = range(0, len(data) - chunk + 1, chunk)
    for n, offset in enumerate(offsets):
        k.fs.read_direct(k.fs.files["big.bin"], offset, chunk, reads.append)
        if n % 2 == 0:
            want_in.append(b"with the disk %d" % n)
            _arrive_with_the_disk(net, k, _udp_frame(peer, k, 7001, 7000, want_in[-1]), n % 4 == 0)
        else:
            send_out(b"with the disk %d" % n + bytes(400))
            _end_with_the_card(k, n % 4 == 1)
        while len(reads) <= n:  # meanwhile a pair every 500 us: 7 Mb/s out, well under the wire's 10
            send_in(b"in %d" % len(want_in) + bytes(200))
            send_out(b"out %d" % len(want_out) + bytes(400))
            net.run_us(500)
            assert net.now < 10_000_000_000, "the reads stalled"
    assert net.run_until(lambda: len(inbound) == len(want_in) and len(outbound) == len(want_out), limit_us=100_000), (
        len(inbound), len(want_in), len(outbound), len(want_out))  # fmt: skip
    assert hits[0] >= len(offsets), hits  # the disk and the card did share the level, at every read
    assert b"".join(r for r in reads if isinstance(r, bytes)) == data[: len(offsets) * chunk]
    assert sorted(inbound) == sorted(want_in) and outbound == want_out
    drv = k.net.driver
    assert drv.tx_dropped == 0 and drv.card_drops == 0 and not drv.txq and not drv.tx_busy
