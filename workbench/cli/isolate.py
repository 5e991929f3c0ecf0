"""Classroom isolation: run a student's work as a process that cannot reach
the instructor's files or network, even if the extension sandbox has a bug.

``spinwb serve`` runs each browser's workbench and headless grading runs each
student's scenario file (arbitrary Python) through ``run``: a child process
that confines itself and then execs the command. What it applies, in order:

- resource limits (setrlimit(2)): CPU seconds (SIGXCPU, SIGKILL a second
  later), address space, the size of any file it writes, no core files;
- a user and network namespace (user_namespaces(7), network_namespaces(7)):
  no network interface but a loopback that is down, and no privilege outside
  the namespace; as root without user namespaces, a network namespace alone;
- every capability dropped (capabilities(7)), and no_new_privs;
- Landlock (landlock(7)): writing, truncating, creating, removing and
  renaming only beneath the scratch directory (and writing /dev/null); with
  ABI 4 no TCP bind or connect; with ABI 6 no signals or abstract unix
  sockets beyond the sandbox;
- a seccomp filter (seccomp(2)): socket(2) refused for every family (a unix
  socket could reach a daemon), no new processes (fork, vfork, clone without
  CLONE_THREAD; clone3 answers ENOSYS so threads fall back to clone), no
  io_uring, ptrace, process_vm_*, pidfd_getfd, unshare or setns, and signals
  only to itself.

Reading is not confined: the child reads what the server's user can (it
needs Python and the project). A mechanism the machine does not offer is
named in one warning line; ``Confinement`` says what held, and the reports
quote it, so nothing claims isolation it does not have.

``python -m workbench.cli.isolate [--cpu S] [--memory MIB] [--file-size MIB]
[--wall S] -- COMMAND...`` runs a command so (``spinwb serve`` wraps each
browser's workbench this way); ``--probe`` prints what this machine offers.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

MiB = 1 << 20
FIRST_WARNING = "spinwb: isolation:"


@dataclass(frozen=True)
class Limits:
    """What one isolated process may use."""

    cpu_seconds: int = 60
    memory_bytes: int = 2048 * MiB  # address space: the kernel's machines are 64 MiB each
    file_bytes: int = 64 * MiB  # the largest file it may write
    wall_seconds: float | None = None  # host time before the parent kills it (None: no bound)

    def describe(self) -> str:
        wall = f", {self.wall_seconds:g} s wall-clock" if self.wall_seconds is not None else ""
        return (f"{self.cpu_seconds} s CPU{wall}, {self.memory_bytes // MiB} MiB address space, "
                f"files up to {self.file_bytes // MiB} MiB")  # fmt: skip


@dataclass
class Confinement:
    """What held in the child: each mechanism's name, and a warning line for
    each one that could not be applied."""

    limits: dict[str, object] = field(default_factory=dict)
    applied: dict[str, str] = field(default_factory=dict)  # mechanism -> what it confines
    warnings: list[str] = field(default_factory=list)

    def brief(self) -> str:
        """One line of what held, for a report; what did not hold says NOT."""
        a = self.applied
        parts = [a["rlimits"].replace(", no core files", "")] if "rlimits" in a else ["no resource limits"]
        parts.append("writes only in a scratch directory" if "landlock" in a else "writes NOT confined")
        net = [m for m in ("namespaces", "seccomp") if m in a]
        if net:
            if "TCP" in a.get("landlock", ""):
                net.insert(1, "landlock")
            parts.append(f"no network ({', '.join(net)})")
        else:
            parts.append("network NOT confined" + (" beyond TCP (landlock)" if "TCP" in a.get("landlock", "") else ""))
        parts.append("no new processes" if "seccomp" in a else "new processes NOT refused")
        return "; ".join(parts)


@dataclass
class Outcome:
    returncode: int
    stdout: bytes
    stderr: bytes
    confinement: Confinement
    killed: str  # why the parent or a limit ended it ("" if it exited by itself)
    cpu_seconds: float


# --- the mechanisms (run in the child, before exec) ------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 24, 38, 22
CLONE_NEWUSER, CLONE_NEWNET, CLONE_THREAD = 0x10000000, 0x40000000, 0x00010000

# Syscall numbers (asm/unistd_64.h; asm-generic/unistd.h for arm64) and seccomp's arch tags (linux/audit.h).
_X86_64 = {"arch": 0xC000003E, "socket": 41, "clone": 56, "fork": 57, "vfork": 58, "kill": 62, "ptrace": 101,
           "capset": 126, "rt_sigqueueinfo": 129, "tkill": 200, "tgkill": 234, "unshare": 272,
           "rt_tgsigqueueinfo": 297, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311}  # fmt: skip
_ARM64 = {"arch": 0xC00000B7, "socket": 198, "clone": 220, "kill": 129, "ptrace": 117, "capset": 91,
          "rt_sigqueueinfo": 138, "tkill": 130, "tgkill": 131, "unshare": 97, "rt_tgsigqueueinfo": 240,
          "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271}  # fmt: skip
_COMMON = {"pidfd_send_signal": 424, "io_uring_setup": 425, "pidfd_open": 434, "clone3": 435, "pidfd_getfd": 438,
           "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446}  # fmt: skip
SYSCALLS = {"x86_64": _X86_64 | _COMMON, "aarch64": _ARM64 | _COMMON}.get(platform.machine(), {})

# Landlock (linux/landlock.h)
LL_FS_WRITE_FILE, LL_FS_REMOVE_DIR, LL_FS_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
LL_FS_MAKE = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
LL_FS_REFER, LL_FS_TRUNCATE = 1 << 13, 1 << 14
LL_NET_BIND_TCP, LL_NET_CONNECT_TCP = 1 << 0, 1 << 1
LL_SCOPE_ABSTRACT_UNIX, LL_SCOPE_SIGNAL = 1 << 0, 1 << 1
LL_RULE_PATH_BENEATH = 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _sys(name: str, *args: object) -> int:
    nr = SYSCALLS.get(name)
    if nr is None:
        raise OSError(errno.ENOSYS, f"{name}: no syscall number known for {platform.machine()}")
    r = _libc.syscall(ctypes.c_long(nr), *args)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{name}: {os.strerror(e)}")
    return int(r)


def landlock_abi() -> int:
    """Landlock's ABI version here, 0 if the kernel has none (or it is off)."""
    try:
        return _sys("landlock_create_ruleset", None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except OSError:
        return 0


def _no_new_privs() -> None:
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")


def _rlimits(limits: Limits) -> str:
    cpu = limits.cpu_seconds
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    return limits.describe() + ", no core files"


def _namespaces() -> str:
    """A network namespace of its own; a user namespace too, which takes away
    every privilege outside it (and lets an unprivileged user make the netns)."""
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        return "a user and network namespace of its own: no interface up, no privilege outside"
    why = os.strerror(ctypes.get_errno())
    if os.geteuid() == 0 and _libc.unshare(CLONE_NEWNET) == 0:
        return f"a network namespace of its own: no interface up (no user namespace: {why})"
    raise OSError(errno.EPERM, f"unshare: {why}")


def _drop_capabilities() -> str:
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    kept = sum(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 for cap in range(last + 1))  # needs CAP_SETPCAP

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    data = (ctypes.c_uint32 * 6)()  # two of {effective, permitted, inheritable}, all zero
    _sys("capset", ctypes.byref(Header(0x20080522, 0)), data)  # _LINUX_CAPABILITY_VERSION_3
    return "none" + ("" if kept else " (bounding set emptied)")


def _landlock(scratch: Path, abi: int) -> str:
    if abi <= 0:
        raise OSError(errno.ENOSYS, "the kernel offers no Landlock (landlock(7); CONFIG_SECURITY_LANDLOCK, lsm=)")
    fs = LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE
    if abi >= 2:
        fs |= LL_FS_REFER
    if abi >= 3:
        fs |= LL_FS_TRUNCATE
    net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP if abi >= 4 else 0
    scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    rules = _sys("landlock_create_ruleset", ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        for path, allowed in ((scratch, fs), (Path("/dev/null"), fs & (LL_FS_WRITE_FILE | LL_FS_TRUNCATE))):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(allowed, fd)
                _sys("landlock_add_rule", rules, ctypes.c_int(LL_RULE_PATH_BENEATH), ctypes.byref(rule),
                     ctypes.c_uint32(0))  # fmt: skip
            finally:
                os.close(fd)
        _no_new_privs()
        _sys("landlock_restrict_self", rules, ctypes.c_uint32(0))
    finally:
        os.close(rules)
    what = f"writes only beneath {scratch} (ABI {abi})"
    if net:
        what += "; no TCP bind or connect"
    if scoped:
        what += "; no signals or abstract unix sockets outside"
    return what


# seccomp: classic BPF over struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6];}
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Insn))]


def _seccomp_program(pid: int) -> list[tuple[int, str | int, str | int, int]]:
    """The filter as (code, jt, jf, k), jumps named by label; see the module docstring."""
    nr = SYSCALLS
    me = [pid, 0, (-pid) & 0xFFFFFFFF]  # kill(2): itself, its group, its group by -pgid (it leads its session)
    p: list[tuple[int, str | int, str | int, int]] = [
        (_LD_W_ABS, 0, 0, 4),  # arch
        (_JEQ, 0, "eperm", nr["arch"]),
        (_LD_W_ABS, 0, 0, 0),  # nr
    ]
    if platform.machine() == "x86_64":
        p.append((_JGE, "eperm", 0, 0x40000000))  # the x32 ABI's numbers
    deny = {"socket": errno.EACCES, "fork": errno.EAGAIN, "vfork": errno.EAGAIN, "clone3": errno.ENOSYS,
            "io_uring_setup": errno.ENOSYS, "ptrace": errno.EPERM, "process_vm_readv": errno.EPERM,
            "process_vm_writev": errno.EPERM, "pidfd_getfd": errno.EPERM, "pidfd_open": errno.EPERM,
            "pidfd_send_signal": errno.EPERM, "tkill": errno.EPERM, "unshare": errno.EPERM,
            "setns": errno.EPERM}  # fmt: skip
    for name, err in deny.items():
        if name in nr:
            p.append((_JEQ, f"errno{err}", 0, nr[name]))
    p.append((_JEQ, "clone", 0, nr["clone"]))
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        p.append((_JEQ, "signal", 0, nr[name]))
    p.append((_RET, 0, 0, _ALLOW))
    p += [("clone", 0, 0, 0), (_LD_W_ABS, 0, 0, 16), (_JSET, "allow", f"errno{errno.EAGAIN}", CLONE_THREAD)]
    p += [("signal", 0, 0, 0), (_LD_W_ABS, 0, 0, 16)]
    p += [(_JEQ, "allow", 0, v) for v in me] + [(_RET, 0, 0, _ERRNO | errno.EPERM)]
    p += [("allow", 0, 0, 0), (_RET, 0, 0, _ALLOW)]
    for err in sorted({*deny.values(), errno.EAGAIN, errno.EPERM}):
        p += [(f"errno{err}", 0, 0, 0), (_RET, 0, 0, _ERRNO | err)]
    p += [("eperm", 0, 0, 0), (_RET, 0, 0, _ERRNO | errno.EPERM)]
    return p


def _assemble(prog: list[tuple[int, str | int, str | int, int]]) -> list[tuple[int, int, int, int]]:
    """Resolve labels (entries whose code is a string mark the next instruction)."""
    labels: dict[str, int] = {}
    out: list[tuple[int, str | int, str | int, int]] = []
    for ins in prog:
        if isinstance(ins[0], str):
            labels[ins[0]] = len(out)
        else:
            out.append(ins)

    def rel(at: int, target: str | int) -> int:
        if isinstance(target, int):
            return target
        off = labels[target] - at - 1
        assert 0 <= off < 256, (target, off)
        return off

    return [(code, rel(i, jt), rel(i, jf), k) for i, (code, jt, jf, k) in enumerate(out)]  # type: ignore[misc]


def _seccomp() -> str:
    if not SYSCALLS:
        raise OSError(errno.ENOSYS, f"no seccomp filter written for {platform.machine()}")
    code = _assemble(_seccomp_program(os.getpid()))
    insns = (_Insn * len(code))(*[_Insn(c, jt, jf, k) for c, jt, jf, k in code])
    prog = _Prog(len(code), insns)
    _no_new_privs()
    if _libc.prctl(PR_SET_SECCOMP, 2, ctypes.cast(ctypes.byref(prog), ctypes.c_void_p).value or 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"prctl(PR_SET_SECCOMP): {os.strerror(e)}")
    return "no sockets, no new processes, no io_uring, ptrace or namespaces; signals only to itself"


MECHANISMS = ("rlimits", "namespaces", "capabilities", "landlock", "seccomp")


def confine(limits: Limits, scratch: Path, only: tuple[str, ...] = MECHANISMS) -> Confinement:
    """Apply the mechanisms to this process, in the order the module
    docstring gives (namespaces need the privileges the later steps drop).
    ``only`` picks some, so each can be tested alone."""
    c = Confinement(limits=asdict(limits))
    steps = (("rlimits", lambda: _rlimits(limits)), ("namespaces", _namespaces),
             ("capabilities", _drop_capabilities), ("landlock", lambda: _landlock(scratch, landlock_abi())),
             ("seccomp", _seccomp))  # fmt: skip
    for name, step in steps:
        if name not in only:
            continue
        try:
            c.applied[name] = step()
        except OSError as e:
            c.warnings.append(f"{FIRST_WARNING} {name} not in force: {e.strerror or e}")
        except Exception as e:  # noqa: BLE001 - a mechanism that cannot be had is a warning, never a crash
            c.warnings.append(f"{FIRST_WARNING} {name} not in force: {type(e).__name__}: {e}")
    return c


# --- the parent: run a command isolated ------------------------------------------------------


def _child(argv: list[str]) -> int:
    """``--confine``: confine this process, report on the status fd, exec."""
    spec, status_fd, parent, cmd = json.loads(argv[0]), int(argv[1]), int(argv[2]), argv[3:]
    c = confine(Limits(**spec["limits"]), Path(spec["scratch"]), tuple(spec["only"]))
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after the credential changes, which clear it
    if os.getppid() != parent:
        return 1  # the parent is already gone
    os.write(status_fd, json.dumps(asdict(c)).encode())
    os.close(status_fd)
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        print(f"spinwb: isolation: cannot run {cmd[0]}: {e.strerror}", file=sys.stderr)
        return 127


def run(cmd: list[str], limits: Limits, *, scratch: Path | None = None, capture: bool = True,
        env: dict[str, str] | None = None, only: tuple[str, ...] = MECHANISMS) -> Outcome:  # fmt: skip
    """Run cmd isolated and wait for it. With ``capture``, its stdout and
    stderr go to files the size limit also bounds (a child printing without
    end fills nothing but those), and come back in the Outcome; otherwise it
    shares this process's. The scratch directory (made if not given) is its
    working directory, HOME and TMPDIR."""
    base = Path(tempfile.mkdtemp(prefix="spinwb-isolated-"))
    work = scratch if scratch is not None else base / "scratch"
    work.mkdir(parents=True, exist_ok=True)
    child_env = dict(os.environ if env is None else env)
    child_env.update(HOME=str(work), TMPDIR=str(work), PYTHONDONTWRITEBYTECODE="1")
    root = str(Path(__file__).resolve().parents[2])  # the child starts in its scratch directory
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, child_env.get("PYTHONPATH")]))
    spec = json.dumps({"limits": asdict(limits), "scratch": str(work), "only": list(only)})
    r, w = os.pipe()
    outs = [open(base / n, "wb") for n in ("stdout", "stderr")] if capture else [None, None]  # noqa: SIM115
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    killed = ""
    p: subprocess.Popen[bytes] | None = None
    ended = False
    try:
        p = subprocess.Popen([sys.executable, "-m", "workbench.cli.isolate", "--confine", spec, str(w), str(os.getpid()),
                              "--", *cmd], cwd=work, env=child_env, pass_fds=(w,), stdin=subprocess.DEVNULL
                             if capture else None, stdout=outs[0], stderr=outs[1], start_new_session=True)  # fmt: skip
        os.close(w)
        w = -1
        status = b""
        while chunk := os.read(r, 65536):
            status += chunk
        try:
            p.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            killed = f"wall-clock limit ({limits.wall_seconds:g} s) reached"
            _kill_group(p.pid)
            p.wait()
        _kill_group(p.pid)  # anything it left behind, where process creation was not refused
        ended = True
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        conf = Confinement(**json.loads(status)) if status else Confinement(warnings=[f"{FIRST_WARNING} no report"])
        if not killed and p.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and cpu >= limits.cpu_seconds - 0.5:
            killed = f"CPU time limit ({limits.cpu_seconds} s) reached"
        elif not killed and p.returncode < 0:
            killed = f"killed by {signal.Signals(-p.returncode).name}"
        data = [b"", b""]
        if capture:
            for i, n in enumerate(("stdout", "stderr")):
                outs[i].close()  # type: ignore[union-attr]
                with open(base / n, "rb") as f:
                    data[i] = f.read(limits.file_bytes)
        return Outcome(p.returncode, data[0], data[1], conf, killed, cpu)
    finally:
        if p is not None and not ended:  # we are being stopped (a signal, an error): so is the child
            _kill_group(p.pid)
            p.wait()
        if w >= 0:
            os.close(w)
        os.close(r)
        for f in outs:
            if f is not None and not f.closed:
                f.close()
        shutil.rmtree(base, ignore_errors=True)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def probe(limits: Limits | None = None) -> Confinement:
    """What this machine offers: confine a child that does nothing."""
    return run([sys.executable, "-c", "pass"], limits or Limits(cpu_seconds=10, wall_seconds=60)).confinement


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--confine"]:
        return _child(argv[1:4] + argv[5:])  # --confine SPEC STATUS_FD PARENT -- COMMAND...
    ap = argparse.ArgumentParser(prog="python -m workbench.cli.isolate", description="run a command isolated")
    ap.add_argument("--cpu", type=int, default=Limits.cpu_seconds, help="CPU seconds")
    ap.add_argument("--memory", type=int, default=Limits.memory_bytes // MiB, help="address space, MiB")
    ap.add_argument("--file-size", type=int, default=Limits.file_bytes // MiB, help="largest file written, MiB")
    ap.add_argument("--wall", type=float, default=None, help="wall-clock seconds")
    ap.add_argument("--probe", action="store_true", help="print what this machine offers, as JSON")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    limits = Limits(a.cpu, a.memory * MiB, a.file_size * MiB, a.wall)
    if a.probe:
        print(json.dumps(asdict(probe(limits)), indent=2))
        return 0
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("give a command after --")
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda n, _f: sys.exit(128 + n))  # the child dies with us (PR_SET_PDEATHSIG)
    out = run(cmd, limits, capture=False)
    for line in out.confinement.warnings:
        print(line, file=sys.stderr)
    if out.killed:
        print(f"spinwb: isolated {cmd[0]}: {out.killed}", file=sys.stderr)
    return out.returncode if out.returncode >= 0 else 128 - out.returncode


if __name__ == "__main__":
    sys.exit(main())
