"""The kernel's inspection API (kernel/inspect.py): each row type read off a
known state, and reading never changes the machine."""

from __future__ import annotations

import pytest

from kernel import inspect
from kernel.boot import boot
from kernel.net.topology import Network
from machine.elf import read_elf
from machine.machine import Machine
from tests.conftest import BIN


@pytest.fixture(scope="module")
def net() -> Network:
    """Two hosts; host 2 runs an extension that counts UDP datagrams to port 2500;
    host 1 pings host 2 three times and sends it four datagrams."""
    n = Network(2)
    a, b = n.hosts
    b.system.load("from spin import UDP, Dispatcher\ncount = 0\nseen = [0, 'x', (1, 2)]\n"
                  "def h(p):\n    global count\n    count += 1\n"
                  "def init():\n    Dispatcher.InstallHandler(UDP.PacketArrived, h, Dispatcher.FieldEquals('dst_port', 2500))\n",
                  "counter.py", importer="root")  # fmt: skip
    for i in range(3):
        a.net.ping("10.0.0.2", i)
        assert n.run_until(lambda i=i: len(a.net.ping_replies) > i, 100_000)
    for _ in range(4):
        assert a.net.udp.send(4000, "10.0.0.2", 2500, b"hi") == 0
    n.run_us(5_000)
    return n


@pytest.fixture(scope="module")
def program() -> object:
    """A kernel running forkcow for a while: user strands and address spaces."""
    m = Machine(32 << 20)
    k = boot(m, init=read_elf(BIN / "forkcow.elf"), argv=["forkcow"])
    m.run(max_instructions=4_000)
    return k


def test_strands_name_the_kernels_threads_and_what_they_wait_for(net: Network) -> None:
    rows = inspect.strands(net.hosts[1])
    idle = next(r for r in rows if r.kind == "idle")
    netisr = next(r for r in rows if r.name == "netisr")
    assert idle.priority == -2 and netisr.kind == "kernel" and netisr.priority == 5000
    assert netisr.state == "blocked" and netisr.blocked_on == "net: waiting for frames"
    assert netisr.us > 0  # it ran: the frames went through it
    assert sum(r.current for r in rows) <= 1


def test_domains_show_rights_and_what_each_extension_imported(net: Network) -> None:
    rows = {r.name: r for r in inspect.domains(net.hosts[1])}
    assert rows["SpinPublic"].kind == "kernel" and "UDP" in rows["SpinPublic"].exports
    ext = rows["counter"]
    assert ext.kind == "extension" and ext.bindings == 1
    assert dict(ext.imports) == {"UDP": "SpinPublic", "Dispatcher": "SpinPublic"}

    assert ext.authority == "all-processes, order, raise, unguarded"  # root's rights, every one named


def test_call_counts_are_true_for_intrinsics_and_extensions(net: Network) -> None:
    k = net.hosts[1]
    ev = {r.name: r for r in inspect.events(k)}
    assert ev["Strand.Block"].calls > 0 and ev["Strand.Resume"].calls > 0  # a plain call, counted
    assert ev["ICMP.PacketArrived"].calls >= 3  # three echo requests
    (b,) = [r for r in inspect.bindings(k, "UDP.PacketArrived") if r.owner == "counter"]
    assert b.calls == 4 and b.handler == "h" and b.guard == "arg0.dst_port == 2500" and b.faulted == ""
    assert b.fuel == 4  # one check a call: the entry
    assert inspect.bindings(k, "No.Such") == []


def test_extension_globals_copy_plain_data_only(net: Network) -> None:
    g = inspect.extension_globals(net.hosts[1], "counter")
    assert g["count"] == 4 and g["seen"] == [0, "x", (1, 2)]
    assert "h" not in g and "init" not in g and "UDP" not in g  # functions and interfaces are not data
    g["seen"].append(99)
    assert inspect.extension_globals(net.hosts[1], "counter")["seen"] == [0, "x", (1, 2)]  # a copy
    assert inspect.extension_globals(net.hosts[1], "nobody") == {}


def test_devices_memory_and_counters(net: Network) -> None:
    k = net.hosts[1]
    devs = {r.name: r.state for r in inspect.devices(k)}
    assert "frames sent" in devs["Ethernet (Lance)"] and "interrupts at 1024 Hz" in devs["interval timer"]
    mem = {(r.kind, r.owner): r for r in inspect.memory(k)}
    phys = mem[("frames", "physical")]
    assert phys.pages > 0 and phys.bytes == phys.pages * 8192
    assert mem[("extension", "counter")].bytes > 0  # its kept heap, as last measured
    c = inspect.counters(k)
    assert c.crossings == 0 and c.syscalls == 0  # no user program on host 2: the kernel did it all
    assert c.switches > 0 and c.cycles > 0 and c.ticks > 0


def test_spaces_mappings_and_a_page_walk(program: object) -> None:
    k = program
    sp = [s for s in inspect.spaces(k) if s.pages][-1]  # type: ignore[arg-type]
    m = inspect.mappings(k, sp.id)[0]  # type: ignore[arg-type]
    steps, outcome = inspect.walk(k, sp.id, m.va)  # type: ignore[arg-type]
    assert [s.level for s in steps] == [1, 2, 3] and f"pfn {m.pfn:#x}" in steps[2].bits
    assert outcome == f"{m.va:#x} -> physical {(m.pfn << 13) | (m.va & 0x1FFF):#x} (user read allowed)"
    assert inspect.walk(k, 999, 0) == ([], "no address space 999")  # type: ignore[arg-type]
    tbs = {t.name: t for t in inspect.tbs(k)}  # type: ignore[arg-type]
    assert set(tbs) == {"ITB", "DTB"} and all(t.entries <= t.size for t in tbs.values())
    user = [r for r in inspect.strands(k) if r.kind == "user"]  # type: ignore[arg-type]
    assert user and all(r.owner for r in user)


def test_the_cpu_registers_names_and_the_code_around_pc(program: object) -> None:
    from machine.alpha.constants import PAGE_SHIFT, REG_NAMES
    from machine.alpha.disasm import disasm_word

    k = program
    sp = [s for s in inspect.spaces(k) if s.pages][-1]  # type: ignore[arg-type]
    assert all(m.vpn == m.va >> PAGE_SHIFT for m in inspect.mappings(k, sp.id))  # type: ignore[arg-type]
    assert inspect.register_names(k) == REG_NAMES and inspect.register_names(k)[30] == "sp"  # type: ignore[arg-type]
    pc = k.machine.cpu.pc  # type: ignore[attr-defined]
    rows = inspect.code(k, pc, 2, 5)  # type: ignore[arg-type]
    assert [r.pc for r in rows] == [pc - 8, pc - 4, pc, pc + 4, pc + 8]
    word = k.machine.peek(pc & ~3, 4)  # type: ignore[attr-defined]
    assert rows[2].text == disasm_word(word, pc, symbolic=True).replace("\t", " ")
    assert inspect.code(k, 0, 0, 1) == [inspect.CodeRow(0, "--")]  # type: ignore[arg-type]  # page 0: never mapped
    assert inspect.CLOCK_HZ == 133_000_000


def test_reading_changes_nothing(program: object) -> None:
    k = program
    before = k.machine.state_hash()  # type: ignore[attr-defined]
    for fn in (inspect.strands, inspect.domains, inspect.events, inspect.spaces, inspect.tbs, inspect.devices,
               inspect.memory, inspect.counters):  # fmt: skip
        fn(k)  # type: ignore[operator]
    for sp in inspect.spaces(k):  # type: ignore[arg-type]
        for m in inspect.mappings(k, sp.id):  # type: ignore[arg-type]
            inspect.walk(k, sp.id, m.va)  # type: ignore[arg-type]
    inspect.code(k, k.machine.cpu.pc, 4, 9)  # type: ignore[arg-type, attr-defined]
    assert k.machine.state_hash() == before  # type: ignore[attr-defined]


def test_packets_their_paths_and_drops_by_reason(net: Network) -> None:
    """Last in the file: it adds traffic to the module's network."""
    a, b = net.hosts
    assert a.net.udp.send(4000, "10.0.0.2", 2600, b"nobody") == 0  # no one listens on 2600
    net.run_us(5_000)
    rows = inspect.packets(b)
    last_in = [r for r in rows if r.direction == "in" and "2600" in r.summary][-1]
    assert last_in.dropped.startswith("UDP: ") and last_in.length >= 60 and last_in.us > 0
    lines = inspect.path(b, last_in.id)
    assert lines[0].startswith("arrived: ") and lines[-1].startswith("dropped at UDP")
    drops = inspect.drops(b)
    assert [d for d in drops if d.layer == "UDP" and d.count >= 1 and d.reason.startswith("no endpoint")]
    assert drops == sorted(drops, key=lambda d: -d.count)  # most frequent first
    assert inspect.packet_ports(next(r for r in b.trace if getattr(r, "packet", None) == last_in.id)) == (4000, 2600)


def test_an_extensions_hostile_data_cannot_stall_or_fool_the_reader(net: Network) -> None:
    """A lesson reads an extension's globals: a list that holds itself, a structure
    nested past any sense, 65,000 items (more than a reader copies) and a list holding one of the
    extension's own objects come back as absent, at once: nothing of the
    extension is walked for long or handed out."""
    import time

    b = net.hosts[1]
    b.system.load("loop = []\ndeep = [0]\nbig = []\nclass Box:\n    pass\nodd = [Box()]\nfine = {'n': (1, 2.5, None)}\n"
                  "def init():\n    global deep, big\n    loop.append(loop)\n    for _ in range(50):\n        deep = [deep]\n"
                  "    big = list(range(65000))\n", "hoarder.py", importer="root")  # fmt: skip
    t0 = time.perf_counter()  # host-time ok: the reader must not walk a million items
    g = inspect.extension_globals(b, "hoarder")
    assert time.perf_counter() - t0 < 1.0
    assert g == {"fine": {"n": (1, 2.5, None)}}
