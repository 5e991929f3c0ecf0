"""The network stack between emulated workstations: ping, UDP, TCP (clean,
lossy, through sockets), forwarding, the packet trace, bad input, a fuzz
of corrupted frames -- with tshark judging the captures."""

from __future__ import annotations

import random
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kernel.net import endpoints as E
from kernel.net import packet as P
from kernel.net.records import PacketCopy, PacketIn
from kernel.net.stack import packet_path
from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from kernel.sys.trace import Dispatch
from machine.elf import read_elf
from tests.conftest import BIN, ROOT, require

EXT = ROOT / "extensions"
BAD = ("_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0 || "
       "icmp.checksum.status == 0 || _ws.expert.severity >= warning")  # fmt: skip


def tshark(pcap: Path, display_filter: str, *fields: str) -> list[str]:
    """Frames of the capture matching the filter (checksums verified), one line each."""
    exe = require("tshark")
    cmd = [exe, "-r", str(pcap), "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
           "-o", "tcp.check_checksum:TRUE", "-Y", display_filter]  # fmt: skip
    if fields:
        cmd += ["-T", "fields", *(x for f in fields for x in ("-e", f))]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return [line for line in p.stdout.splitlines() if line.strip()]


def program(name: str, *args: str) -> tuple[Any, list[str]]:
    return read_elf(BIN / f"{name}.elf"), [name, *args]


def pattern(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def test_ping_between_two_machines(tmp_path: Path) -> None:
    net = Network(2, pcap=tmp_path / "ping.pcap")
    a, b = net.hosts
    for i in range(3):
        assert a.net.ping("10.0.0.2", i) == 0
        assert net.run_until(lambda i=i: len(a.net.ping_replies) > i, 50_000)
    net.close()
    assert [(src, seq) for _, src, _, seq in a.net.ping_replies] == [("10.0.0.2", 0), ("10.0.0.2", 1), ("10.0.0.2", 2)]
    assert b.net.counters["icmp echo replies sent"] == 3 and b.net.counters["arp replies sent"] == 1
    assert tshark(tmp_path / "ping.pcap", BAD) == []
    replies = tshark(tmp_path / "ping.pcap", "icmp.type == 0 && icmp.resp_to", "icmp.seq")
    assert replies == ["0", "1", "2"]  # tshark matched each reply to its request
    assert tshark(tmp_path / "ping.pcap", "arp.opcode == 2", "arp.src.proto_ipv4") == ["10.0.0.2"]


def test_udp_echo_extension_answers_in_the_kernel(tmp_path: Path) -> None:
    net = Network(2, pcap=tmp_path / "udp.pcap")
    a, b = net.hosts
    ext = b.system.load_file(EXT / "udp_echo.py", importer="root")
    out: dict[str, Any] = {}
    a.sched.fork(E.udp_rtt_client, a, "10.0.0.2", 7, 10, 100, out, name="client")
    assert net.run_until(lambda: "done" in out, 1_000_000)
    net.close()
    assert out["ok"] and len(out["rtts"]) == 10
    assert ext.namespace["echoed"] == 10
    assert b.sal.crossings == 0 and b.net.counters["copies"] == 0  # no process, no copy across the boundary
    binding = ext.bindings[0]
    assert binding.calls == 10 and binding.event.name == "UDP.PacketArrived"
    assert tshark(tmp_path / "udp.pcap", BAD) == []
    assert len(tshark(tmp_path / "udp.pcap", "udp.srcport == 7 && udp.length == 108")) == 10


def test_a_datagram_nobody_wants_gets_port_unreachable() -> None:
    net = Network(2)
    a, b = net.hosts
    assert a.net.udp.send(4000, "10.0.0.2", 9, b"anyone?") == 0
    net.run_us(20_000)
    assert b.net.counters["UDP: no endpoint on the port"] == 1
    assert a.net.counters["icmp unreachable received"] == 1


def _transfer(net: Network, data: bytes) -> dict[str, Any]:
    a, b = net.hosts
    rx: dict[str, Any] = {}
    tx: dict[str, Any] = {}
    b.sched.fork(E.tcp_receive, b, 5001, rx, name="receiver")
    a.sched.fork(E.tcp_transfer, a, "10.0.0.2", 5001, data, tx, name="sender")
    assert net.run_until(lambda: "done" in rx, 120_000_000), (a.net.tcp.connections(), b.net.tcp.connections())
    net.run_us(50_000)  # the last ACKs
    assert tx.get("sent") == len(data) and "error" not in tx
    assert not a.sched.failures and not b.sched.failures
    return rx


def test_tcp_moves_a_mebibyte_intact_and_tshark_finds_nothing_to_flag(tmp_path: Path) -> None:
    pcap = tmp_path / "tcp.pcap"
    net = Network(2, pcap=pcap)
    data = pattern(1 << 20)
    rx = _transfer(net, data)
    net.close()
    assert rx["data"] == data
    a, b = net.hosts
    assert a.net.counters["tcp timeouts"] == 0 and b.net.counters["tcp out-of-order segments held"] == 0
    assert tshark(pcap, BAD) == []
    assert tshark(pcap, "tcp.analysis.flags") == []  # no retransmission, dup ACK, zero window, window update
    assert len(tshark(pcap, "tcp.flags.syn == 1")) == 2 and len(tshark(pcap, "tcp.flags.fin == 1")) == 2
    assert tshark(pcap, "tcp.options.mss_val", "tcp.options.mss_val") == ["1460", "1460"]
    assert [t.state for t in a.net.tcp.conns.values()] == ["TIME_WAIT"] and not b.net.tcp.conns
    net.run_us(250_000)
    assert not a.net.tcp.conns  # TIME_WAIT is two MSLs


def test_tcp_with_seeded_loss_delivers_everything_once_in_order() -> None:
    net = Network(2, loss=0.05, seed=11)
    data = pattern(1 << 20, seed=2)
    rx = _transfer(net, data)
    a, b = net.hosts
    assert net.wire.lost > 20  # the wire did drop frames
    assert a.net.counters["tcp timeouts"] + a.net.counters["tcp fast retransmits"] > 0
    assert b.net.counters["tcp out-of-order segments held"] > 0
    assert rx["data"] == data  # all of it, in order, exactly once


def test_tcp_over_sockets_between_user_programs(tmp_path: Path) -> None:
    pcap = tmp_path / "sockets.pcap"
    net = Network(2, pcap=pcap, programs={1: program("tcp_recv", "5001"),
                                          0: program("tcp_send", "10.0.0.2", "5001", str(1 << 20))})  # fmt: skip
    a, b = net.hosts
    assert net.run_until(lambda: not a.user_strands() and not b.user_strands(), 60_000_000, 2000)
    net.close()
    assert bytes(a.machine.console.output) == b"tcp_send: 1048576 bytes sent\n"
    assert bytes(b.machine.console.output) == b"tcp_recv: 1048576 bytes intact\n"
    assert a.exit_status == 0 and b.exit_status == 0
    assert a.net.counters["bytes copied"] == b.net.counters["bytes copied"] == 1 << 20  # copyin, copyout
    assert tshark(pcap, BAD) == [] and tshark(pcap, "tcp.analysis.flags && !tcp.analysis.window_update") == []


def test_udp_over_sockets_between_user_programs() -> None:
    net = Network(2, programs={1: program("udp_echo", "7", "5"), 0: program("udp_rtt", "10.0.0.2", "7", "5")})
    a, b = net.hosts
    assert net.run_until(lambda: not a.user_strands() and not b.user_strands(), 5_000_000)
    assert a.exit_status == 0 and b.exit_status == 0, bytes(a.machine.console.output)
    assert bytes(a.machine.console.output).startswith(b"rtt ops=5 ")
    # each round trip: copyin and copyout on each host
    assert a.net.counters["copies"] == 10 and b.net.counters["copies"] == 10


def test_bad_requests_get_errno_and_the_machines_run_on() -> None:
    net = Network(2, programs={0: program("netbad", "10.0.0.2")})
    a, b = net.hosts
    assert net.run_until(lambda: not a.user_strands(), 5_000_000)
    lines = dict(line.split(": ") for line in bytes(a.machine.console.output).decode().splitlines())
    assert lines == {"bind 7000": "0", "bind 7000 again": "-48", "sendto off-subnet": "-51",
                     "sendto silent host": "0", "sendto silent host later": "-65", "socket bad family": "-47",
                     "connect closed port": "-61", "connect silent host": "-65", "recv unconnected": "-57",
                     "send on a file": "-38"}  # fmt: skip
    assert a.net.counters["IP: host unreachable: no ARP reply"] == 1
    assert b.net.counters["TCP: no connection on the port"] == 1
    # the network still works after all that
    assert a.net.ping("10.0.0.2", 1) == 0
    assert net.run_until(lambda: bool(a.net.ping_replies), 50_000)


def test_a_port_an_extension_claims_is_taken_for_everyone() -> None:
    net = Network(2)
    b = net.hosts[1]
    b.system.load_file(EXT / "udp_echo.py", importer="root")
    with pytest.raises(SpinError, match="UDP.Listen: port 7 is in use"):
        b.system.load_file(EXT / "udp_echo.py", importer="root", name="second_echo")
    assert b.net.udp.bind(7, "pid 9") == -48
    b.system.unload(b.system.extensions["udp_echo"])
    assert not isinstance(b.net.udp.bind(7, "pid 9"), int)  # free again once the extension is gone


THROWS = """
from spin import UDP, Dispatcher

def boom(dgram):
    return 1 // 0

def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, boom)
"""


def test_a_handler_that_throws_is_contained_and_the_packet_still_flows() -> None:
    net = Network(2)
    a, b = net.hosts
    b.system.load_file(EXT / "udp_echo.py", importer="root")
    b.system.load(THROWS, "throws.py", importer="root")
    out: dict[str, Any] = {}
    a.sched.fork(E.udp_rtt_client, a, "10.0.0.2", 7, 3, 16, out, name="client")
    assert net.run_until(lambda: "done" in out, 1_000_000)
    assert out["ok"] and len(out["rtts"]) == 3  # the echo answered every time
    assert any("handler boom on UDP.PacketArrived raised ZeroDivisionError" in r for r in b.dispatcher.reports)
    assert not b.sched.failures and b.machine.halt_reason is None


def test_the_trace_follows_a_packet_through_the_graph() -> None:
    net = Network(2, programs={1: program("udp_echo", "7", "1")})
    a, b = net.hosts
    b.dispatcher.set_tracing(True)
    net.run_us(5_000)
    a.net.udp.send(4000, "10.0.0.2", 7, b"trace me")
    assert net.run_until(lambda: not b.user_strands(), 1_000_000)
    pin = next(r for r in b.trace.of(PacketIn) if "UDP 10.0.0.1:4000 > 10.0.0.2:7" in r.summary)
    path = packet_path(b.trace, pin.packet)
    hops = [r for r in path if isinstance(r, Dispatch)]
    assert sorted(h.event for h in hops) == ["Ether.PacketArrived", "IP.PacketArrived", "UDP.PacketArrived"]
    assert path[0] is pin
    udp_hop = next(h for h in hops if h.event == "UDP.PacketArrived")
    ep = b.net.udp.ports.get(7)
    assert (ep is None or ep.binding is not None) and any(passed for _, passed in udp_hop.guards)
    copies = [r for r in path if isinstance(r, PacketCopy)]
    assert [c.nbytes for c in copies] == [8] and "copyout to pid 1" in copies[0].where


def test_forwarding_nodes_keep_tcp_end_to_end(tmp_path: Path) -> None:
    pcap = tmp_path / "forward.pcap"
    net = Network(3, pcap=pcap)
    c, f, s = net.hosts
    ext = f.system.load_file(
        EXT / "forward.py", importer="root", settings={"PROTO": "tcp", "PORT": 5001, "TARGET": "10.0.0.3"}
    )
    data = pattern(200_000, seed=5)
    rx: dict[str, Any] = {}
    tx: dict[str, Any] = {}
    s.sched.fork(E.tcp_receive, s, 5001, rx, name="receiver")
    c.sched.fork(E.tcp_transfer, c, "10.0.0.2", 5001, data, tx, name="sender")
    assert net.run_until(lambda: "done" in rx, 30_000_000)
    net.close()
    assert rx["data"] == data
    assert not f.net.tcp.conns and f.net.counters["tcp resets sent"] == 0  # F's own TCP never saw a segment
    assert ext.namespace["forwarded"] == f.net.counters["forwarded"] > 2 * len(data) // 1460
    # the SYNs and FINs crossed F: the handshake is between C and S
    assert len(tshark(pcap, "tcp.flags.syn == 1 && ip.src == 10.0.0.2")) == 2
    assert tshark(pcap, BAD) == []


def test_udp_forwarding_across_three_machines() -> None:
    net = Network(3)
    c, f, s = net.hosts
    f.system.load_file(EXT / "forward.py", importer="root", settings={"PORT": 7000, "TARGET": "10.0.0.3"})
    s.system.load_file(EXT / "udp_echo.py", importer="root", settings={"PORT": 7000})
    out: dict[str, Any] = {}
    c.sched.fork(E.udp_rtt_client, c, "10.0.0.2", 7000, 5, 16, out, name="client")
    assert net.run_until(lambda: "done" in out, 2_000_000)
    assert out["ok"] and len(out["rtts"]) == 5
    assert s.system.extensions["udp_echo"].namespace["echoed"] == 5 and f.net.counters["forwarded"] == 10


def test_settings_must_name_a_constant_of_the_same_type() -> None:
    b = Network(1).hosts[0]
    with pytest.raises(SpinError, match="no top-level int constant named NOPE"):
        b.system.load_file(EXT / "udp_echo.py", importer="root", settings={"NOPE": 1})
    with pytest.raises(SpinError, match="cannot set PORT='7'"):
        b.system.load_file(EXT / "udp_echo.py", importer="root", settings={"PORT": "7"})
    assert "udp_echo" not in b.system.extensions and 7 not in b.net.udp.ports


def test_the_flow_monitor_counts_without_taking() -> None:
    net = Network(2)
    a, b = net.hosts
    mon = b.system.load_file(EXT / "flow_monitor.py", importer="root")
    b.system.load_file(EXT / "udp_echo.py", importer="root")
    out: dict[str, Any] = {}
    a.sched.fork(E.udp_rtt_client, a, "10.0.0.2", 7, 4, 16, out, name="client")
    assert net.run_until(lambda: "done" in out, 1_000_000)
    assert out["ok"]  # the echo behind the monitor still answered
    a.net.udp.send(4000, "10.0.0.2", 9, b"x")
    net.run_us(20_000)
    flows = mon.namespace["flows"]
    assert flows[("udp", "10.0.0.1", 4000, "10.0.0.2", 7)] == [4, 64]
    assert b.net.counters["UDP: no endpoint on the port"] == 1  # watching did not hide the drop


def test_the_same_world_twice_gives_the_same_hashes() -> None:
    def run() -> list[str]:
        net = Network(2, loss=0.1, seed=4)
        _transfer(net, pattern(50_000))
        return [k.state_hash() for k in net.hosts]

    assert run() == run()


def _fix_ip_checksum(f: bytearray) -> None:
    """Make the IP header checksum right again, so the check after it is the one tested."""
    f[24:26] = b"\0\0"
    f[24:26] = struct.pack("!H", P.checksum(bytes(f[14:34])))


def _corrupt(rng: random.Random, good: list[bytes]) -> bytes:
    f = bytearray(rng.choice(good))
    kind = rng.randrange(7)
    if kind == 0:  # truncated headers
        return bytes(f[: rng.randrange(0, 54)])
    if kind == 1:  # a bad IP total length or header length
        f[16:18] = struct.pack("!H", rng.randrange(0, 3000))
        if rng.random() < 0.5:
            f[14] = 0x40 | rng.randrange(16)
        if rng.random() < 0.5:
            _fix_ip_checksum(f)
        return bytes(f)
    if kind == 2:  # a flipped bit in the headers or payload: some checksum fails
        i = rng.randrange(14, len(f))
        f[i] ^= 1 << rng.randrange(8)
        return bytes(f)
    if kind == 3:  # a fragment
        f[20:22] = struct.pack("!H", rng.choice([0x2000, 0x0010, 0x2005]))
        _fix_ip_checksum(f)
        return bytes(f)
    if kind == 4:  # random bytes after a valid Ethernet header for this host
        return bytes(f[:14]) + rng.randbytes(rng.randrange(0, 1500))
    if kind == 5:  # a bad UDP/TCP length or data offset
        f[38:40] = struct.pack("!H", rng.randrange(0, 2000))
        f[46] = rng.randrange(256)
        return bytes(f)
    return bytes(f[:12]) + rng.randbytes(rng.randrange(2, 200))  # anything with this host's address


def test_ten_thousand_corrupted_frames_while_a_transfer_runs() -> None:
    net = Network(2)
    a, b = net.hosts
    mac = b.net.mac.to_bytes(6, "big") + (0x0200_0000_0099).to_bytes(6, "big")
    ip = P.ip("10.0.0.1", "10.0.0.2", P.PROTO_UDP, P.udp("10.0.0.1", "10.0.0.2", 5, 53, b"q" * 30), 1)
    tcp = P.ip(
        "10.0.0.1", "10.0.0.2", P.PROTO_TCP, P.tcp("10.0.0.1", "10.0.0.2", 5, 5001, 1, 1, P.ACK, 100, b"d" * 40), 2
    )
    icmp = P.ip("10.0.0.1", "10.0.0.2", P.PROTO_ICMP, P.icmp(8, 0, 1, 1, b"p" * 20), 3)
    arp = P.arp(1, 0x0200_0000_0099, "10.0.0.99", 0, "10.0.0.2")  # not 10.0.0.1: that would be ARP spoofing
    good = [f.ljust(60, b"\0") for f in (mac + b"\x08\x00" + ip, mac + b"\x08\x00" + tcp, mac + b"\x08\x00" + icmp,
                                          mac + b"\x08\x06" + arp)]  # fmt: skip
    rng = random.Random(2024)
    data = pattern(300_000, seed=9)
    rx: dict[str, Any] = {}
    tx: dict[str, Any] = {}
    b.sched.fork(E.tcp_receive, b, 5001, rx, name="receiver")
    a.sched.fork(E.tcp_transfer, a, "10.0.0.2", 5001, data, tx, name="sender")
    injected = 0
    fuzzer = object()  # a station on the wire that only sends
    while injected < 10_000:
        for _ in range(2):
            net.wire.carry(fuzzer, _corrupt(rng, good), net.now)  # type: ignore[arg-type]
            injected += 1
        net.run_us(300)
    assert net.run_until(lambda: "done" in rx, 60_000_000)
    assert rx["data"] == data  # the transfer ran through it all
    assert not b.sched.failures and not a.sched.failures and b.machine.halt_reason is None
    stats = b.net.stats()
    assert not [k for k in stats if k.startswith("stack: internal error")], stats
    assert stats["dropped"] >= 5_000, stats  # most were refused, each counted with its reason
    assert len([k for k in stats if ": " in k]) < 40, sorted(stats)  # counted by reason, not by frame
    for reason in ("IP: bad header checksum", "UDP: bad checksum", "IP: fragment not a multiple of 8 bytes",
                   "Ether: runt frame", "IP: bad total length", "TCP: bad checksum", "ARP: truncated"):  # fmt: skip
        assert any(k.startswith(reason) for k in stats), (reason, stats)
    assert b.net.driver.received + b.net.driver.card_drops + b.net.driver.filtered >= 10_000


def test_an_extension_on_the_send_path_refuses_forged_sources() -> None:
    net = Network(2)
    a, b = net.hosts
    guard = a.system.load_file(EXT / "anti_spoof.py", importer="root")
    a.net.ip_send("10.0.0.2", P.PROTO_UDP, P.udp("10.0.0.77", "10.0.0.2", 5, 9, b"forged"), src="10.0.0.77")
    a.net.ip_send("10.0.0.2", P.PROTO_UDP, P.udp("10.0.0.1", "10.0.0.2", 5, 9, b"honest"), src="10.0.0.1")
    net.run_us(20_000)
    assert guard.namespace["refused"] == 1
    assert b.net.counters["udp in"] == 1  # only the honest one reached the wire
    assert a.system.console[-1] == "anti_spoof: refused a packet from 10.0.0.77 to 10.0.0.2"


def test_spinwb_net_runs_programs_and_extensions_on_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli.main import main

    pcap = tmp_path / "run.pcap"
    rtt = BIN / "udp_rtt.elf"
    assert (
        main(["net", "--ext", "2:extensions/udp_echo.py", "--run", f"1:{rtt} 10.0.0.2 7 3", "--pcap", str(pcap)]) == 0
    )
    out, err = capsys.readouterr()
    assert "10.0.0.2   [kernel] udp_echo: echoing UDP port 7" in out and "10.0.0.1   rtt ops=3 " in out
    assert f"frames written to {pcap}" in err and pcap.stat().st_size > 24
    assert main(["net", "--run", "3:x.elf"]) == 2
    assert "HOST a number from 1 to 2" in capsys.readouterr().err
    assert main(["net", "--ext", "1:nothere.py"]) == 2
    assert capsys.readouterr().err == "spinwb net: nothere.py: no such file\n"  # read before any host boots


def test_a_full_listen_backlog_drops_further_syns() -> None:
    net = Network(2)
    a, b = net.hosts
    lst = b.net.tcp.listen(5001, 1, "test")
    first = a.net.tcp.connect("10.0.0.2", 5001, "test")
    net.run_us(5_000)
    second = a.net.tcp.connect("10.0.0.2", 5001, "test")
    net.run_us(5_000)
    assert not isinstance(lst, int) and len(lst.accept_queue) == 1  # nobody accepted the first
    assert b.net.counters["TCP: listen backlog full"] >= 1
    assert not isinstance(first, int) and first.state == "ESTABLISHED"
    assert not isinstance(second, int) and second.state == "SYN_SENT"  # it will retry its SYN
    assert lst.accept() is not None
    net.run_us(300_000)
    assert second.state == "ESTABLISHED"  # a retransmitted SYN found room


def test_frames_after_the_capture_is_closed_are_not_captured_and_raise_nothing(tmp_path: Path) -> None:
    net = Network(2, pcap=tmp_path / "late.pcap")
    a, _ = net.hosts
    net.close()  # the capture ends; the machines run on
    assert a.net.ping("10.0.0.2", 1) == 0
    assert net.run_until(lambda: len(a.net.ping_replies) > 0, 100_000)
    assert (tmp_path / "late.pcap").stat().st_size == 24  # the pcap header alone
