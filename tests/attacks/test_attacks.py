"""The attack suite (issue 15): hostile extensions, each refused or contained
by the specific rule or record, and the kernel still running after it.

Four classes, as an attacker would try them: reaching the host through
syntax or builtins the verifier must refuse (static); running past the fuel
or building without bound (dynamic, each stopped with its reason); writing
kernel objects handed over as capabilities; and acting on kernel events
beyond a user's rights. Every dynamic attack runs as a guarded UDP handler
on host 10.0.0.2 of a two-machine world, loaded with a user's rights; after
each, a ping and a UDP datagram still get through.
"""

from __future__ import annotations

import io
import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest

from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from kernel.sys.trace import Abort, Fault
from kernel.sys.verifier import check

# --- 1. reaching past the interfaces: refused by the verifier, rule and line -------------------------

STATIC: list[tuple[str, str, str]] = [
    # (id, source, rule)
    ("match-class-kwargs", "def f(x):\n    match x:\n        case object(__class__=c):\n            return c\n",
     "pattern-matching"),
    ("match-capture", "def f(x):\n    match x:\n        case y:\n            return y\n", "pattern-matching"),
    ("match-mapping", "def f(x):\n    match x:\n        case {'a': v}:\n            return v\n", "pattern-matching"),
    ("with", "def f(x):\n    with x as y:\n        return y\n", "with-statement"),
    ("yield", "def f():\n    yield 1\n", "generator"),
    ("yield-from", "def f():\n    yield from [1]\n", "generator"),
    ("async-def", "async def f():\n    pass\n", "async"),
    ("await-in-lambda", "def f(x):\n    return (lambda: x)()\nasync def g():\n    await f(1)\n", "async"),
    ("dunder-import", "def f():\n    return __import__('os')\n", "dunder-name"),
    ("getattr", "def f(x):\n    return getattr(x, 'y')\n", "forbidden-builtin"),
    ("class-walk", "def f():\n    return ().__class__.__base__.__subclasses__()\n", "dunder-attribute"),
    ("func-globals", "def f():\n    return f.__globals__\n", "dunder-attribute"),
    ("gen-frame", "def f():\n    g = (x for x in [1])\n    return g.gi_frame.f_back\n", "internals-attribute"),
    ("traceback", "def f():\n    try:\n        1 / 0\n    except Exception as e:\n        return e.__traceback__\n",
     "dunder-attribute"),
    ("tb-frame", "def f(tb):\n    return tb.tb_frame\n", "internals-attribute"),
    ("str-format", "def f(x):\n    return '{0.__class__}'.format(x)\n", "format-traversal"),
    ("format-map", "def f(x):\n    return '{a}'.format_map(x)\n", "format-traversal"),
    ("computed-spec", "def f(x, w):\n    return f'{x:{w}}'\n", "format-spec"),
    ("huge-width", "def f(x):\n    return f'{x:>1000000000}'\n", "format-spec"),
    ("type", "def f(x):\n    return type(x)\n", "forbidden-builtin"),
    ("vars", "def f():\n    return vars()\n", "forbidden-builtin"),
    ("globals", "def f():\n    return globals()\n", "forbidden-builtin"),
    ("locals", "def f():\n    return locals()\n", "forbidden-builtin"),
    ("open", "def f():\n    return open('/etc/passwd')\n", "forbidden-builtin"),
    ("eval", "def f():\n    return eval('1')\n", "forbidden-builtin"),
    ("exec", "def f():\n    exec('x = 1')\n", "forbidden-builtin"),
    ("compile", "def f():\n    return compile('1', 'x', 'eval')\n", "forbidden-builtin"),
    ("breakpoint", "def f():\n    breakpoint()\n", "forbidden-builtin"),
    ("id", "def f(x):\n    return id(x)\n", "forbidden-builtin"),
    ("hash", "def f(x):\n    return hash(x)\n", "forbidden-builtin"),
    ("memoryview", "def f(b):\n    return memoryview(b)\n", "forbidden-builtin"),
    ("object", "def f():\n    return object\n", "forbidden-builtin"),
    ("super", "class A:\n    def m(self):\n        return super()\n", "forbidden-builtin"),
    ("base-exception", "def f():\n    try:\n        pass\n    except BaseException:\n        pass\n",
     "forbidden-builtin"),
    ("memory-error", "def f():\n    try:\n        pass\n    except MemoryError:\n        pass\n", "forbidden-builtin"),
    ("bare-except", "def f():\n    try:\n        pass\n    except:\n        pass\n", "catch-all"),
    ("import-os", "import os\n", "import"),
    ("from-os", "from os import path\n", "import"),
    ("star", "from spin import *\n", "star-import"),
    ("relative", "from . import x\n", "import"),
    ("nested-import", "def f():\n    from spin import Sal\n", "import"),
    ("decorator", "def d(f):\n    return f\n@d\ndef g():\n    pass\n", "decorator"),
    ("metaclass", "class A(metaclass=list):\n    pass\n", "class-base"),
    ("class-base", "class A(Exception):\n    pass\n", "class-base"),
    ("dunder-eq", "class A:\n    def __eq__(self, o):\n        return True\n", "dunder-name"),
    ("dunder-del", "class A:\n    def __del__(self):\n        pass\n", "dunder-name"),
    ("dunder-bool", "class A:\n    def __bool__(self):\n        return True\n", "dunder-name"),
    ("dunder-hash", "class A:\n    def __hash__(self):\n        return 1\n", "dunder-name"),
    ("fuel-reset", "def f():\n    _spin_fuel = iter(range(10**9))\n", "reserved-name"),
    ("fuel-global", "_spin_out = 1\n", "reserved-name"),
    ("lambda-import", "f = lambda: __import__('os')\n", "dunder-name"),
    ("keyword-dunder", "def f(g):\n    return g(__class__=1)\n", "dunder-name"),
    ("private", "def f(h):\n    return h._obj\n", "private-attribute"),
    ("mro", "def f(x):\n    return x.mro\n", "internals-attribute"),
    ("with-traceback", "def f(e):\n    return e.with_traceback\n", "internals-attribute"),
    ("matmul", "def f(a, b):\n    return a @ b\n", "operator"),
    ("rebind-interface", "from spin import Console\ndef f():\n    global Console\n    Console = 1\n",
     "interface-write"),
    ("write-interface", "from spin import Console\ndef f():\n    Console.Print = print\n", "interface-write"),
    ("top-level-loop", "while True:\n    pass\n", "top-level-statement"),
    ("deep-nesting", "x = " + "[" * 150 + "1" + "]" * 150 + "\n", "too-deep"),
    ("deep-parens", "x = " + "(" * 250 + "1" + ")" * 250 + "\n", "syntax-error"),
    ("deep-binop", "def f():\n    return 1" + " + 1" * 5000 + "\n", "too-deep"),
    ("deep-not", "def f():\n    return " + "not " * 5000 + "1\n", "too-deep"),
    ("huge-source", "X = '" + "a" * 300_000 + "'\n", "too-large"),
    ("null-byte", "x = 1\0\n", "syntax-error"),
]  # fmt: skip


@pytest.mark.parametrize(("src", "rule"), [(s, r) for _, s, r in STATIC], ids=[i for i, _, _ in STATIC])
def test_the_verifier_refuses_each_way_past_the_interfaces(src: str, rule: str) -> None:
    result = check(src, "attack.py")
    assert isinstance(result, list), "accepted"
    assert rule in {d.rule for d in result}, [str(d) for d in result]
    d = next(d for d in result if d.rule == rule)
    assert str(d).startswith(f"attack.py:{d.line}:{d.col}: {rule}: ") and " — " in str(d)


# --- the world every dynamic attack runs in ------------------------------------------------------


class World:
    """Two machines; host 2 runs the attack as a guarded UDP handler."""

    def __init__(self) -> None:
        self.net = Network(2)
        self.a, self.b = self.net.hosts
        self.ports = itertools.count(2000)
        self.pings = itertools.count(1)

    def attack(self, body: str, *, setup: str = "", importer: str = "user", calls: int = 1) -> tuple[Any, int]:
        """Load ``handler`` (its body given) on a fresh port and send ``calls``
        datagrams to it; the extension and its port."""
        port = next(self.ports)
        src = (f"from spin import UDP, Dispatcher, Console, PhysAddr, Trap, Strand\n{textwrap.dedent(setup)}\n"
               f"def handler(p):\n{textwrap.indent(textwrap.dedent(body), '    ')}\n"
               f"def init():\n    Dispatcher.InstallHandler(UDP.PacketArrived, handler, "
               f"Dispatcher.FieldEquals('dst_port', {port}))\n")  # fmt: skip
        ext = self.b.system.load(src, f"attack_{port}.py", importer=importer)
        for _ in range(calls):
            self.send(port)
        return ext, port

    def send(self, port: int) -> None:
        before = sum(1 for r in self.b.trace.of(Abort)) + sum(1 for r in self.b.trace.of(Fault))
        calls = self.b.net.udp.ev_in.bindings
        del calls
        assert self.a.net.udp.send(4000, "10.0.0.2", port, b"attack") == 0
        self.net.run_until(lambda: False, 3_000)  # long enough for the datagram to arrive and be handled
        del before

    def alive(self) -> None:
        """The kernel still runs: a ping is answered and an echo still echoes."""
        seq = next(self.pings)
        self.a.net.ping("10.0.0.2", seq)
        assert self.net.run_until(lambda: any(r[3] == seq for r in self.a.net.ping_replies), 1_000_000)
        assert self.b.machine.halt_reason is None and not self.b.sched.failures

    def last_stop(self, ext: Any) -> str:
        """The report line of the extension's last fault or abort."""
        lines = [r for r in self.b.dispatcher.reports if r.startswith(f"{ext.name}:")]
        assert lines, f"{ext.name} was neither aborted nor faulted: {self.b.dispatcher.reports[-3:]}"
        return " / ".join(lines)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


# --- 2. running outside the fuel, building without bound ----------------------------------------

DYNAMIC: list[tuple[str, str, str, str]] = [
    # (id, setup, handler body, what the report must say)
    ("loop", "", "while True:\n    pass", "exceeded its bound of"),
    ("lambda-recursion", "", "f = lambda n: f(n + 1)\nf(0)", "recursed too deeply"),
    ("mutual-recursion", "def g(n):\n    return h2(n)\ndef h2(n):\n    return g(n)\n", "g(0)",
     "recursed too deeply"),
    ("finally-loop", "", "try:\n    while True:\n        pass\nfinally:\n    while True:\n        pass",
     "exceeded its bound of"),
    ("except-then-loop", "", "try:\n    while True:\n        pass\nexcept Exception:\n    pass\nwhile True:\n    pass",
     "exceeded its bound of"),
    ("comprehension", "", "[x for x in range(1000000) for y in range(1000000)]", "exceeded its bound of"),
    ("genexp-any", "", "any(False for x in range(1000000) for y in range(1000000))", "exceeded its bound of"),
    ("huge-range", "", "sum(range(10**12))", "range would make"),
    ("iter-sentinel", "", "list(iter(int, 1))", "iter(callable, sentinel)"),
    ("map-forever", "", "l = [1]\nfor x in map(lambda v: v, l):\n    l.append(x)", "exceeded its bound of"),
    ("extend-zip-self", "", "l = [()]\nl.extend(zip(l))\nif len(l) != 2:\n    1 / 0", "NEVER"),
    ("sorted-map", "", "sorted(map(lambda v: v, range(1000000)))", "exceeded its bound of"),
    ("str-mul", "", "x = 'x' * 10**9", "* would make"),
    ("list-mul", "", "x = [0] * 10**9", "* would make"),
    ("bytes-mul", "", "x = b'x' * 10**9", "* would make"),
    ("int-pow", "", "x = 10 ** 10 ** 9", "** would make"),
    ("int-pow-builtin", "", "x = pow(10, 10**9)", "** would make"),
    ("pow-mod-huge", "", "x = pow(3, 10**9000, 7)", "pow with a modulus would make"),
    ("shift", "", "x = 1 << 10**9", "<< would make"),
    ("int-mul-loop", "", "x = 3\nwhile True:\n    x = x * x", "* would make"),
    ("percent-width", "", "x = '%1000000000d' % 1", "width would make"),
    ("percent-star", "", "x = '%*d' % (10**9, 1)", "`*` width"),
    ("percent-var-fmt", "", "f = '%' + '1000000000' + 's'\nx = f % 'a'", "width would make"),
    ("join", "", "x = ' '.join(['x' * 1000] * 60000)", "join would make"),
    ("replace", "", "s = 'a' * 1000\nx = s.replace('a', 'b' * 10000)", "replace would make"),
    ("replace-empty", "", "x = ('a' * 1000).replace('', 'b' * 10000)", "replace would make"),
    ("ljust", "", "x = 'a'.ljust(10**9)", "ljust would make"),
    ("zfill", "", "x = '1'.zfill(10**9)", "zfill would make"),
    ("center", "", "x = 'a'.center(10**9)", "center would make"),
    ("expandtabs", "", "x = ('\\t' * 1000).expandtabs(10**6)", "expandtabs would make"),
    ("bytes-n", "", "x = bytes(10**9)", "bytes would make"),
    ("bytearray-n", "", "x = bytearray(10**9)", "bytearray would make"),
    ("sum-lists", "", "x = sum([[1]] * 1000, [])", "sum() adds numbers"),
    ("doubling-add", "", "s = 'x'\nwhile True:\n    s = s + s", "+ would make"),
    ("doubling-iadd", "", "l = [1]\nwhile True:\n    l += l", "+= would make"),
    ("doubling-extend", "", "l = [1]\nwhile True:\n    l.extend(l)", "this operation would make"),
    ("doubling-slice", "", "l = [1]\nwhile True:\n    l[:0] = l", "a slice assignment would make"),
    ("doubling-fstring", "", "s = 'x' * 1000\nwhile True:\n    s = f'{s}{s}'", "this operation would make"),
    ("doubling-star", "", "l = [1]\nwhile True:\n    l = [*l, *l]", "*unpacking would make"),
    ("doubling-hex", "", "b = b'x'\nwhile True:\n    b = b.hex().encode()", "would make"),
    ("split-bomb", "", "s = 'a ' * 30000\nkeep = []\nwhile True:\n    keep.append(s.split())",
     "exceeded its bound of|the host grew by"),
    ("slice-bomb", "", "s = 'a' * 60000\nkeep = []\nwhile True:\n    keep.append(s[1:])",
     "exceeded its bound of|the host grew by"),
    ("to-bytes", "", "x = (1).to_bytes(10**9, 'big')", "to_bytes would make"),
    ("translate", "", "x = ('a' * 1000).translate({97: 'b' * 1000})", "translate would make"),
    ("str-of-refs", "", "big = ['y' * 60000] * 60000\nx = str(big) + repr(big) + f'{big}'\nif len(x) > 3 * 4096:\n    1 / 0",
     "NEVER"),
    ("bad-bound", "", "Dispatcher.InstallHandler(UDP.PacketArrived, handler, lambda p: False, bound=-1)",
     "a bound is a positive number"),
    ("bool-bound", "", "Dispatcher.InstallHandler(UDP.PacketArrived, handler, lambda p: False, bound=True)",
     "a bound is a positive number"),
    ("raise-event", "", "UDP.PacketArrived(p)", "is the kernel's to raise"),
    ("raise-syscall", "", "Trap.SystemCall(1, 2)", "is the kernel's to raise"),
    ("raise-block", "", "Strand.Block(1)", "is the kernel's to raise"),
    ("first-from-handler", "", "Dispatcher.InstallHandler(Trap.SystemCall, lambda s, st: None, first=True)",
     "needs the right"),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "body", "want"), [(s, b, w) for _, s, b, w in DYNAMIC],
                         ids=[i for i, *_ in DYNAMIC])  # fmt: skip
def test_a_hostile_handler_is_stopped_with_its_reason_and_the_kernel_runs_on(world: World, setup: str, body: str,
                                                                             want: str) -> None:  # fmt: skip
    ext, port = world.attack(body, setup=setup)
    if "NEVER" in want:  # a bounded repr: the handler finds its str() short and does nothing wrong
        assert not [r for r in world.b.dispatcher.reports if r.startswith(f"{ext.name}:")]
    else:
        line = world.last_stop(ext)
        assert any(w in line for w in want.split("|")), line
        assert "binding #" in line and "uninstalled" in line
    world.alive()
    world.b.system.unload(ext)


def test_a_binding_cannot_raise_its_own_bound(world: World) -> None:
    ext, _ = world.attack("pass", setup="")
    (b,) = ext.bindings
    assert world.b.dispatcher.bound_of(b) <= 100_000
    src = ("from spin import UDP, Dispatcher\ndef h(p):\n    while True:\n        pass\n"
           "def init():\n    Dispatcher.InstallHandler(UDP.PacketArrived, h, Dispatcher.FieldEquals('dst_port', 1999), "
           "bound=10**12)\n")  # fmt: skip
    big = world.b.system.load(src, "bigbound.py")
    world.send(1999)
    (abort,) = [a for a in world.b.trace.of(Abort) if a.owner == "bigbound"]
    assert abort.fuel <= 100_000  # clamped to the event's bound, not the asked-for 10**12
    world.alive()
    world.b.system.unload(big)
    world.b.system.unload(ext)


def test_a_deep_key_is_refused_before_hash_can_crash_the_host(world: World) -> None:
    """A tuple nested ~150,000 deep overflows the C stack in CPython's hash()
    (SIGSEGV). Nested displays build ten levels per check, so one call can
    get there; every place extension code hashes checks the depth first."""
    body = "t = ()\nfor i in range(20000):\n    t = ((((((((((t,),),),),),),),),),)\nd = {t: 1}"
    ext, _ = world.attack(body)
    assert "nested more than 1000 deep" in world.last_stop(ext)
    world.alive()


@pytest.mark.parametrize("use", ["s = {t}", "x = t in {1: 2}", "d = {}\nd[t] = 1", "x = {}.get(t)",
                                 "x = set([t])", "x = dict.fromkeys([t])", "x = {t: 1 for _ in range(1)}",
                                 "x = frozenset([t])", "s = set()\ns.add(t)", "x = {1}.union([t])"])  # fmt: skip
def test_every_way_to_hash_a_deep_key_is_checked(world: World, use: str) -> None:
    ext, _ = world.attack("t = ()\nfor i in range(1500):\n    t = (t,)\n" + use)
    assert "nested more than 1000 deep" in world.last_stop(ext)
    world.alive()


def test_nesting_kept_across_calls_is_stopped_by_the_footprint(world: World) -> None:
    ext, port = world.attack("global t\nfor i in range(5000):\n    t = (t,)", setup="t = ()\n", calls=1)
    for _ in range(60):
        if not ext.loaded:
            break
        world.send(port)
    assert not ext.loaded, "the extension was never stopped"
    assert any("nested more than" in r for r in world.b.dispatcher.reports)
    assert "t" not in ext.namespace  # what it kept was dropped
    world.alive()


def test_memory_kept_across_calls_is_bounded_by_the_quota(world: World) -> None:
    ext, port = world.attack("for i in range(100):\n    keep.append('k' * 60000)", setup="keep = []\n")
    for _ in range(40):
        if not ext.loaded:
            break
        world.send(port)
    assert not ext.loaded and any("keeps more than 16 MiB" in r for r in world.b.dispatcher.reports)
    world.alive()


def test_memory_grown_within_one_call_is_stopped_at_a_checkpoint(world: World) -> None:
    ext, _ = world.attack("keep = []\nwhile True:\n    keep.append(b'x' * 60000)")
    assert "the host grew by" in world.last_stop(ext) or "keeps more than" in world.last_stop(ext)
    world.alive()


def test_init_is_bounded_too(world: World) -> None:
    src = "from spin import Console\ndef init():\n    while True:\n        pass\n"
    with pytest.raises(SpinError, match=r"init\(\) ran out of fuel"):
        world.b.system.load(src, "runaway_init.py")
    assert "runaway_init" not in world.b.system.extensions
    world.alive()


def test_code_run_outside_a_call_has_no_fuel(world: World) -> None:
    """A function an extension leaves behind, called later by nobody's grant,
    stops at its first check."""
    ext, _ = world.attack("pass", setup="def later():\n    return 1\n")
    with pytest.raises(BaseException) as e:
        ext.namespace["later"]()
    assert type(e.value).__name__ == "FuelExhausted"
    world.b.system.unload(ext)


# --- 3. capabilities that are only capabilities --------------------------------------------------

CAPS: list[tuple[str, str, str]] = [
    ("write-handle", "h = PhysAddr.Allocate('x')\nh.pfn = 0", "AttributeError"),
    ("read-handle", "h = PhysAddr.Allocate('x')\nx = h.pfn", "AttributeError"),
    ("forged-int", "PhysAddr.Deallocate(0x42)", "forged reference"),
    ("forged-tuple", "PhysAddr.Deallocate((0x42,))", "forged reference"),
    ("double-free", "h = PhysAddr.Allocate('x')\nPhysAddr.Deallocate(h)\nPhysAddr.Deallocate(h)", "revoked"),
    ("wrong-kind", "b = Dispatcher.InstallHandler(UDP.PacketArrived, handler, lambda p: False)\n"
                   "PhysAddr.Deallocate(b)", "expected a frame handle"),
    ("forged-uninstall", "Dispatcher.Uninstall(7)", "forged reference"),
    ("write-packet", "p.dst_port = 1", "AttributeError"),
    ("event-as-name", "Dispatcher.InstallHandler('UDP.PacketArrived', handler, lambda p: True)", "is not an event"),
    ("hoard-frames", "for i in range(300):\n    PhysAddr.Allocate('hoard')", "at most 256 frames"),
    ("write-interface-member", "x = UDP.Send\nx.y = 1\nz = UDP.Send.y", "AttributeError"),  # each read a fresh view
]  # fmt: skip


@pytest.mark.parametrize(("body", "want"), [(b, w) for _, b, w in CAPS], ids=[i for i, *_ in CAPS])
def test_kernel_objects_reach_extensions_only_as_capabilities(world: World, body: str, want: str) -> None:
    before = world.b.phys.nfree
    ext, _ = world.attack(body)
    assert want in world.last_stop(ext)
    world.b.system.unload(ext)
    assert world.b.phys.nfree == before  # unloading gave back every frame it held
    world.alive()


def test_a_reclaim_handler_sees_a_view_it_cannot_write(world: World) -> None:
    from kernel.core.physaddr_iface import FrameView

    f = world.b.phys.Allocate("victim", ("reclaimable",))
    view = FrameView(f)
    with pytest.raises(AttributeError):
        view.pfn = 0  # type: ignore[misc]
    assert view.pfn == f.pfn and view.tag == "victim"
    world.b.phys.Deallocate(f)


# --- 4. authority on events ----------------------------------------------------------------------

AUTH: list[tuple[str, str, str]] = [
    ("first-syscall", "Dispatcher.InstallHandler(Trap.SystemCall, h, lambda s, st: True, first=True)", "order"),
    ("cancel-syscall", "Dispatcher.InstallHandler(Trap.SystemCall, h, lambda s, st: True, cancel=True)", "order"),
    ("unguarded-syscall", "Dispatcher.InstallHandler(Trap.SystemCall, h)", "unguarded"),
    ("first-ip-send", "Dispatcher.InstallHandler(IP.PacketSend, h1, lambda p: True, first=True, cancel=True)", "order"),
    ("unguarded-udp", "Dispatcher.InstallHandler(UDP.PacketArrived, h1)", "unguarded"),
    ("unguarded-block", "Dispatcher.InstallHandler(Strand.Block, h1)", "unguarded"),
    ("first-fault", "Dispatcher.InstallHandler(Translation.ProtectionFault, h, lambda s, st: True, first=True)",
     "order"),
    ("raise-syscall-init", "Trap.SystemCall(1, 2)", "is the kernel's to raise"),
    ("raise-block-init", "Strand.Block(1)", "is the kernel's to raise"),
    ("raise-reclaim-init", "PhysAddr.Reclaim(1)", "is the kernel's to raise"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "want"), [(c, w) for _, c, w in AUTH], ids=[i for i, *_ in AUTH])
def test_a_users_extension_has_no_authority_over_kernel_events(world: World, call: str, want: str) -> None:
    src = ("from spin import Dispatcher, Trap, IP, UDP, Strand, Translation, PhysAddr\n"
           "def h(s, st):\n    st.result = 0\n"
           "def h1(x):\n    pass\n"
           f"def init():\n    {call}\n")  # fmt: skip
    with pytest.raises(SpinError) as e:
        world.b.system.load(src, "authority.py")
    assert want in str(e.value)
    assert "authority" not in world.b.system.extensions
    world.alive()


SWALLOW = """from spin import Dispatcher, Trap
def swallow(strand, state):
    state.result = 0
def init():
    Dispatcher.InstallHandler(Trap.SystemCall, swallow, lambda strand, state: state.v0 == 4, first=True, cancel=True)
"""
GUARDED = """from spin import Dispatcher, Trap
seen = []
def count(strand, state):
    seen.append(state.pid)
def init():
    Dispatcher.InstallHandler(Trap.SystemCall, count, lambda strand, state: True)
"""


def test_a_users_system_call_handler_sees_only_its_own_processes(tmp_path: Path) -> None:
    from kernel.boot import boot
    from machine.elf import read_elf
    from tests.conftest import BIN

    out = bytearray()
    k = boot(init=read_elf(BIN / "echo-ev4.elf"), argv=["echo", "still", "here"], console_out=out.extend,
             halt_when_done=True)  # fmt: skip
    k.console_input = io.BytesIO(b"abc\n").read
    with pytest.raises(SpinError, match="order"):  # the swallow-every-write attack, as a user
        k.system.load(SWALLOW, "swallow.py")
    mine = k.system.load(GUARDED, "mine.py", clients=(999,))  # loaded for a process that is not running
    k.run(max_instructions=50_000_000)
    assert b"  1| abc" in out, out  # the program ran as it always does
    assert mine.namespace["seen"] == []  # it never saw pid 1's calls
    assert any(getattr(g.guard, "__name__", "").startswith("pid in [999]") for g in mine.bindings[0].imposed)


def test_the_owner_may_do_what_a_user_may_not() -> None:
    net = Network(2)
    b = net.hosts[1]
    ext = b.system.load(SWALLOW, "swallow.py", importer="root")
    assert ext.bindings and "swallow" in b.system.extensions


# --- holes an attacker's review found, each closed ------------------------------------------------

REVIEW_STATIC: list[tuple[str, str, str]] = [
    ("break-outside-loop", "def f():\n    break\n", "syntax-error|python-warning"),
    ("continue-outside-loop", "def f():\n    continue\n", "syntax-error|python-warning"),
    ("duplicate-argument", "def f(a, a):\n    pass\n", "syntax-error|python-warning"),
    ("nonlocal-unbound", "def f():\n    nonlocal q\n", "syntax-error|python-warning"),
    ("two-starred", "def f(x):\n    *a, *b = x\n", "syntax-error|python-warning"),
    ("return-in-class", "class A:\n    return 1\n", "syntax-error|python-warning"),
    ("not-subscriptable", "def f():\n    return 0[0]\n", "python-warning"),
    ("huge-literal", "def f():\n    return 0x" + "f" * 200_000 + "\n", "too-large"),
    ("payload-release", "def f(p):\n    p.payload.release()\n", "internals-attribute"),
]  # fmt: skip


@pytest.mark.parametrize(("src", "rules"), [(s, r) for _, s, r in REVIEW_STATIC], ids=[i for i, *_ in REVIEW_STATIC])
def test_files_python_cannot_run_are_refused_by_the_verifier(src: str, rules: str) -> None:
    result = check(src, "attack.py")
    assert isinstance(result, list), "accepted"
    assert {d.rule for d in result} & set(rules.split("|")), [str(d) for d in result]


REVIEW_DYNAMIC: list[tuple[str, str]] = [
    ("x = list.real(range(10))", "AttributeError"),
    ("x = str.ljust('a', 10**9)", "ljust would make"),
    ("x = int.to_bytes(1, 10**9, 'big')", "to_bytes would make"),
    ("l = [1]\nwhile True:\n    list.extend(l, l)", "would make"),
    ("x = dict.fromkeys(range(1000000))", "would make"),
    ("x = int.from_bytes(b'\\xff' * 60000, 'big')", "int.from_bytes would make"),
    ("print('a', 'b', sep='x' * 60000)", "sep and end are short strings"),
    ("f = '%' + '1000000000' + 'd'\nx = f % 1", "width would make"),
    ("PhysAddr.Allocate('mine', ('reclaimable',))", "attrs may name only zeroed"),
    ("PhysAddr.Allocate('mine', ('pinned',))", "attrs may name only zeroed"),
    ("x = VirtAddr.Allocate(p, 8192)", "expected a translation handle"),
    ("Translation.Protect(p, 0, 1 << 40, 'r')", "expected a translation handle"),
    ("g = Sched.NewGroup('mine', 9999)", "no higher than user programs"),
    ("g = Sched.NewGroup('x' * 1000)", "a name of 1..64 characters"),
    ("raise Exception(['y' * 60000] * 60000)", "Exception: ['yyy"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "want"), REVIEW_DYNAMIC, ids=[b.split("\n")[-1][:40] for b, _ in REVIEW_DYNAMIC])
def test_holes_the_review_found_stay_closed(world: World, body: str, want: str) -> None:
    ext, _ = world.attack(body, setup="from spin import VirtAddr, Translation, Sched\n")
    line = world.last_stop(ext)
    assert want in line, line
    assert len(line) < 1000  # what an extension raised is quoted bounded
    world.alive()


def test_an_imposed_guard_is_the_extensions_code_and_runs_contained(world: World) -> None:
    src = ("from spin import UDP, Dispatcher\n"
           "def h(p):\n    pass\n"
           "def g(p):\n    while True:\n        pass\n"
           "def init():\n    b = Dispatcher.InstallHandler(UDP.PacketArrived, h, Dispatcher.FieldEquals('dst_port', 2999))\n"
           "    Dispatcher.ImposeGuard(b, g)\n")  # fmt: skip
    ext = world.b.system.load(src, "imposer.py")
    world.send(2999)
    assert any(r.startswith("imposer:") and "exceeded its bound" in r for r in world.b.dispatcher.reports)
    assert not world.b.sched.failures  # netisr did not die
    world.alive()
    world.b.system.unload(ext)


def test_console_lines_from_an_extension_are_bounded(world: World) -> None:
    ext, _ = world.attack("Console.Print(['y' * 60000] * 60000)\nprint(['z' * 60000] * 60000)")
    assert all(len(line) <= 4096 for line in world.b.system.console)
    world.b.system.unload(ext)


def test_what_a_binding_keeps_for_an_extension_counts_in_its_quota(world: World) -> None:
    src = ("from spin import UDP, Dispatcher\n"
           "def h(c, p):\n    pass\n"
           "def init():\n    t = []\n    for i in range(500):\n        t = [t]\n"
           "    Dispatcher.InstallHandler(UDP.PacketArrived, h, Dispatcher.FieldEquals('dst_port', 2998), closure=t)\n")  # fmt: skip
    with pytest.raises(SpinError, match="nested more than"):
        world.b.system.load(src, "deep_closure.py")
    world.alive()


def test_a_users_extension_sees_no_other_process_strands_and_adopts_none() -> None:
    from kernel.boot import boot
    from machine.elf import read_elf
    from tests.conftest import BIN

    k = boot(init=read_elf(BIN / "echo-ev4.elf"), argv=["echo", "x"], halt_when_done=True)
    k.console_input = io.BytesIO(b"abc\n").read
    src = ("from spin import Strand, Sched, Dispatcher\n"
           "seen = []\n"
           "def watch(s):\n    seen.append(s.id)\n    Sched.Adopt(Sched.NewGroup('mine'), s)\n"
           "def init():\n    Dispatcher.InstallHandler(Strand.Block, watch, lambda s: True)\n")  # fmt: skip
    ext = k.system.load(src, "watcher.py", clients=(999,))
    k.run(max_instructions=50_000_000)
    assert ext.namespace["seen"] == [] and k.exit_status is not None


# --- the second review's holes, each closed ------------------------------------------------------

SECOND_STATIC: list[tuple[str, str]] = [
    ("def f(s):\n    g = s.ljust\n    return g(10)\n", "method-value"),
    ("def f(xs):\n    return list(map(str.ljust, xs, [9]))\n", "method-value"),
    ("def f(l):\n    e = l.extend\n    e(l)\n", "method-value"),
]


@pytest.mark.parametrize(("src", "rule"), SECOND_STATIC, ids=["bound-method", "class-method", "extend-value"])
def test_a_growing_method_cannot_be_taken_as_a_value(src: str, rule: str) -> None:
    result = check(src, "attack.py")
    assert isinstance(result, list) and rule in {d.rule for d in result}


SECOND_DYNAMIC: list[tuple[str, str, str]] = [
    ("slice-chain", "x = None\nfor i in range(100):\n    x = slice(slice(x))", "slice() takes numbers or None"),
    ("shared-compare", "a = [0]\nb = [0]\nfor i in range(60):\n    a = [a, a]\n    b = [b, b]\nx = a == b",
     "comparing this would make"),
    ("shared-in", "a = [0]\nfor i in range(60):\n    a = [a, a]\nx = a in [[0]]", "comparing this would make"),
    ("shared-max", "a = [0]\nfor i in range(60):\n    a = [a, a]\nx = max([a, a])", "comparing this would make"),
    ("shared-sort-key", "a = [0]\nb = [0]\nfor i in range(60):\n    a = [a, a]\n    b = [b, b]\n"
     "x = sorted([0, 1], key=lambda v: a if v else b)", "comparing this would make"),
    ("shared-max-key", "a = [0]\nb = [0]\nfor i in range(60):\n    a = [a, a]\n    b = [b, b]\n"
     "x = max([0, 1], key=lambda v: a if v else b)", "comparing this would make"),
    ("shared-list-sort-key", "a = [0]\nb = [0]\nfor i in range(60):\n    a = [a, a]\n    b = [b, b]\n"
     "l = [0, 1]\nl.sort(key=lambda v: a if v else b)", "comparing this would make"),
    ("pow-mod-bits", "a = (1 << 8000) - 1\nx = pow(a, a, a)", "pow with a modulus would make"),
    ("round-digits", "x = round(5, -10**8)", "round(x, n)"),
    ("many-bindings", "for i in range(100):\n    Dispatcher.InstallHandler(UDP.PacketArrived, handler, lambda p: False)",
     "at most 64 handlers"),
    ("translate-list", "x = ('a' * 20000).translate(['x' * 60000] * 128)", "translate would make"),
    ("from-bytes-instance", "x = (0).from_bytes(b'\\xff' * 60000, 'big')", "int.from_bytes would make"),
    ("int-of-text", "x = int('f' * 60000, 16)", "int() of text would make"),
    ("hash-collisions", "x = set([1 + k * (2**61 - 1) for k in range(5000)])", "share a hash"),
    ("forged-source", "IP.Forward(p, '10.0.0.77', '10.0.0.1')", "cannot forge sources"),
    ("foreign-port", "UDP.Send(53, '10.0.0.1', 53, b'x')", "not one this extension listens on"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "want"), [(b, w) for _, b, w in SECOND_DYNAMIC], ids=[i for i, *_ in SECOND_DYNAMIC])
def test_the_second_reviews_holes_stay_closed(world: World, body: str, want: str) -> None:
    ext, _ = world.attack(body, setup="from spin import IP\n")
    assert want in world.last_stop(ext), world.last_stop(ext)
    world.alive()
    world.b.system.unload(ext)


def test_a_bounded_repr_of_a_widely_shared_list_stays_small(world: World) -> None:
    ext, _ = world.attack("x = [0] * 200\nfor i in range(6):\n    x = [x] * 200\nkeep.append(str(x))\nConsole.Print(x)",
                          setup="keep = []\n")  # fmt: skip
    assert not [r for r in world.b.dispatcher.reports if r.startswith(f"{ext.name}:")]
    assert len(ext.namespace["keep"][0]) <= 4096 and len(world.b.system.console[-1]) <= 4096
    world.b.system.unload(ext)


def test_no_host_address_shows_in_a_repr(world: World) -> None:
    ext, _ = world.attack("keep.append(str(p))", setup="keep = []\n")
    assert " at 0x" not in ext.namespace["keep"][0] and "payload" in ext.namespace["keep"][0]
    world.b.system.unload(ext)


def test_a_users_scheduler_decides_only_for_its_own_groups() -> None:
    net = Network(1)
    k = net.hosts[0]
    src = ("from spin import Sched, Dispatcher\ndecided = []\n"
           "def choose(g, ready):\n    decided.append(1)\n    return ready[0]\n"
           "def init():\n    Dispatcher.InstallHandler(Sched.Choose, choose, lambda g, ready: True)\n")  # fmt: skip
    ext = k.system.load(src, "chooser.py")
    (b,) = ext.bindings
    assert any(g.guard.__name__ == "one of its own groups" for g in b.imposed)
    other = k.sched.new_group_view("someone else's", 10)
    assert all(not g.check(other, (1, 2)) for g in b.imposed)  # never asked for another's group


def test_indexed_guards_on_a_missing_field_do_not_break_the_kernels_dispatch() -> None:
    """Five FieldEquals guards on one field are indexed into one lookup in the
    dispatcher's generated code -- kernel code: a packet without that field
    must select none of them, not raise where every datagram passes."""
    from kernel.net import endpoints as E

    net = Network(2)
    a, b = net.hosts
    b.system.load_file(Path(__file__).resolve().parents[2] / "extensions" / "udp_echo.py", importer="root")
    guards = "".join(f"    Dispatcher.InstallHandler(UDP.PacketArrived, h, Dispatcher.FieldEquals('nosuch', {i}))\n"
                     for i in range(5))  # fmt: skip
    b.system.load("from spin import UDP, Dispatcher\ndef h(p):\n    pass\ndef init():\n" + guards, "missing.py")
    out: dict[str, Any] = {}
    a.sched.fork(E.udp_rtt_client, a, "10.0.0.2", 7, 3, 16, out, name="client")
    assert net.run_until(lambda: "done" in out, 1_000_000)
    assert out["ok"] and len(out["rtts"]) == 3 and not b.sched.failures


def test_a_keyword_is_no_field_name() -> None:
    net = Network(1)
    src = "from spin import UDP, Dispatcher\ndef h(p):\n    pass\ndef init():\n" + "".join(
        f"    Dispatcher.InstallHandler(UDP.PacketArrived, h, Dispatcher.FieldEquals('class', {i}))\n" for i in range(5)
    )
    with pytest.raises(SpinError, match="wants a field name, not 'class'"):
        net.hosts[0].system.load(src, "kw.py")


@pytest.mark.parametrize("forged", ["42", "'strand 1'", "Sched.NewGroup('decoy')", "[1, 2]"],
                         ids=["int", "text", "a-group-for-a-strand", "list"])  # fmt: skip
def test_an_extension_cannot_pass_a_forged_strand_to_the_scheduler(forged: str) -> None:
    """This session's attack on strand_of, the kernel's one way from a view to
    a strand: an extension hands Sched.Adopt something that is not a view an
    event passed it. The load is refused, saying what Adopt takes, the
    group is left empty, and the kernel still runs its processes."""
    from kernel.boot import boot
    from machine.elf import read_elf
    from tests.conftest import BIN

    k = boot(init=read_elf(BIN / "hello-ev4.elf"), argv=["hello"], halt_when_done=True)
    src = f"from spin import Sched\ndef init():\n    Sched.Adopt(Sched.NewGroup('mine'), {forged})\n"
    with pytest.raises(SpinError, match="a strand an event passed you"):
        k.system.load(src, "forger.py", importer="root")
    assert all(s.group is None or s.group.name != "mine" for s in k.sched.strands.values())
    k.run(max_instructions=20_000_000)
    assert k.exit_status == 0


def test_twin_handlers_on_two_machines_each_run_only_on_their_own(world: World) -> None:
    """Dispatch code is compiled once per source text and shared between machines
    (dispatcher._compiled). Host 2 of this world and host 2 of a second world each load a
    hostile extension binding the same event with the same guard shape; a datagram to one
    must run that machine's handler only. (Here the two UDP dispatch sources differ, so
    the code is not shared; tests/kernel/test_dispatcher.py shows the shared case.)"""
    other = World()
    port = 2999
    src = ("from spin import UDP, Dispatcher\ndef handler(p):\n    1 / 0\n"
           f"def init():\n    Dispatcher.InstallHandler(UDP.PacketArrived, handler, Dispatcher.FieldEquals('dst_port', {port}))\n")  # fmt: skip
    mine = other.b.system.load(src, "twin_a.py", importer="user")
    theirs = world.b.system.load(src, "twin_b.py", importer="user")
    try:
        world.send(port)
        other.send(port + 1)  # its dispatch runs (and is generated) with the guard false
        assert [r for r in world.b.dispatcher.reports if r.startswith("twin_b:")], world.b.dispatcher.reports[-3:]
        assert not [r for r in other.b.dispatcher.reports if r.startswith("twin_a:")]  # the other twin never ran
        world.alive()
    finally:
        other.b.system.unload(mine)
        world.b.system.unload(theirs)
