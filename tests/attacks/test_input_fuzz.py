"""The malformed-input fuzz (issue 15): thousands of mutations of the files
students hand the workbench -- ELF executables, disk images, machine state
files and assembler sources -- each through its parser and loader, and the
ones that load, run for a few thousand instructions. Nothing but the
documented error class may escape (ElfError, FsFormatError or
DiskImageError, StateFileError, AsmError), and no case may hang: a watchdog
turns a case that runs on into a failure naming it.

The mutator is seeded, so a failure reproduces: byte flips, truncations,
deletions, repeats, splices from another seed file, and overwrites of the
format's own size, offset and address fields with boundary values (0, -1,
2^31, 2^42, 2^63, ...). State files are also re-sealed after an edit of
their JSON (a field deleted, added, made a float, a huge number, a deep
list) so the checksum passes and the shape checks are what is tested.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import signal
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kernel.boot import boot
from kernel.fs.format import FsFormatError, build_image, read_image
from machine import state
from machine.alpha.asm import AsmError, assemble
from machine.alpha.constants import KSEG_BASE
from machine.alpha.disasm import disasm_word
from machine.alpha.pal import ENT_INT
from machine.disk import R_BLOCK, R_CMD, R_COUNT, R_DMA, DiskImageError
from machine.elf import ElfError, parse_elf, read_elf
from machine.machine import Machine
from machine.nic import OWNED, R_RX_COUNT, R_RX_RING, R_TX_ADDR, R_TX_CMD, R_TX_LEN, Wire
from machine.usermode import UserProgram
from machine.world import World
from tests.conftest import BIN, PROGRAMS
from workbench.cli.main import main

MUTATIONS = 1000
CASE_SECONDS = 30  # a case normally takes milliseconds; this only turns a hang into a failure
BOUNDARY = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x1FF, 0x200, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFF_FFFF,
            0x8000_0000, 0xFFFF_FFFF, 1 << 32, 1 << 41, (1 << 42) - 1, 1 << 42, 1 << 43, 0xFFFF_FC00_0000_0000,
            (1 << 63) - 1, 1 << 63, (1 << 64) - 1]  # fmt: skip


@contextmanager
def watchdog(what: str) -> Iterator[None]:
    """Fail (not hang) if one case runs past CASE_SECONDS of host time."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"{what}: still running after {CASE_SECONDS} s (a hang)")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(CASE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def mutate(rng: random.Random, data: bytes, fields: list[tuple[int, int]] = (), others: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    """One to three random edits of ``data``; ``fields`` are (offset, width)
    of the format's size/offset/address fields, ``others`` files to splice from."""
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        k = rng.random()
        if k < 0.35 and fields:
            off, width = rng.choice(fields)
            v = rng.choice(BOUNDARY)
            if rng.random() < 0.3:  # near the value that was there
                v = int.from_bytes(b[off : off + width], "little") + rng.choice((-1, 1, 8, -8, 4096))
            if off + width <= len(b):
                b[off : off + width] = (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        elif k < 0.55 and b:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif k < 0.7 and b:
            del b[rng.randrange(len(b) + 1) :]
        elif k < 0.8 and b:
            i = rng.randrange(len(b))
            del b[i : i + rng.randint(1, 256)]
        elif k < 0.9 and others:
            src = rng.choice(others)
            i = rng.randrange(len(src))
            at = rng.randrange(len(b) + 1)
            b[at:at] = src[i : i + rng.randint(1, 512)]
        elif b:
            i = rng.randrange(len(b))
            b[i:i] = b[i : i + rng.randint(1, 64)] * rng.randint(1, 4)
    return bytes(b)


# --- ELF files ------------------------------------------------------------------------------------


def elf_fields(d: bytes) -> list[tuple[int, int]]:
    """The ELF header's, program headers' and section headers' numeric fields."""
    out = [(4, 1), (5, 1), (16, 2), (18, 2), (24, 8), (32, 8), (40, 8), (54, 2), (56, 2), (58, 2), (60, 2), (62, 2)]
    phoff, shoff = struct.unpack_from("<QQ", d, 32)
    (phnum,) = struct.unpack_from("<H", d, 56)
    (shnum,) = struct.unpack_from("<H", d, 60)
    for i in range(phnum):
        o = phoff + 56 * i
        out += [(o, 4), (o + 4, 4), (o + 8, 8), (o + 16, 8), (o + 32, 8), (o + 40, 8)]
    for i in range(shnum):
        o = shoff + 64 * i
        out += [(o, 4), (o + 4, 4), (o + 24, 8), (o + 32, 8), (o + 40, 4), (o + 56, 8)]
    return out


ELF_SEEDS = sorted(BIN.glob("*.elf"))


def test_elf_fuzz() -> None:
    """Parse every mutation; run one in four that parse in the one-process
    harness and one in ten on the kernel, each for a few thousand instructions."""
    seeds = [p.read_bytes() for p in ELF_SEEDS]
    fields = [elf_fields(s) for s in seeds]
    rng = random.Random(15)
    parsed = ran = 0
    for n in range(MUTATIONS):
        i = rng.randrange(len(seeds))
        data = mutate(rng, seeds[i], fields[i], seeds)
        with watchdog(f"ELF mutation {n} of {ELF_SEEDS[i].name}"):
            try:
                img = parse_elf(data, "m.elf")
            except ElfError as e:
                assert str(e).startswith("m.elf: ")
                continue
            parsed += 1
            img.labels()
            if img.space != "user":
                continue
            if parsed % 4 == 0:
                UserProgram(img, ["m"], stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.BytesIO()).run(3000)
                ran += 1
            if parsed % 10 == 0:
                boot(init=img, argv=["m"], halt_when_done=True, console_out=lambda b: None).run(3000)
    assert parsed > MUTATIONS // 10 and ran > 20, (parsed, ran)  # the fuzz reached the loaders, not only the magic


# --- disk images ----------------------------------------------------------------------------------


def disk_fields(d: bytes) -> list[tuple[int, int]]:
    """The superblock's counts and each directory entry's extent, size and name bytes."""
    out = [(8, 4), (12, 4), (16, 4), (20, 4)]
    nfiles, dir_block = struct.unpack_from("<II", d, 8)
    for i in range(min(nfiles, 40)):
        o = dir_block * 512 + 64 * i
        out += [(o, 1), (o + 38, 2), (o + 40, 4), (o + 44, 4), (o + 48, 8), (o + 56, 4)]
    return out


def disk_seeds() -> list[bytes]:
    """Images as `spinwb mkfs` builds them."""
    hello = (BIN / "hello-ev4.elf").read_bytes()
    return [build_image({"hello": hello, "notes.txt": b"some notes\n" * 300, "empty": b""}),
            build_image({"a": b"1"}),
            build_image({f"f{i}": bytes([i]) * i * 100 for i in range(20)}, spare_blocks=2)]  # fmt: skip


def test_disk_image_fuzz() -> None:
    """Each mutation read by the host tool and mounted by a booted kernel,
    which then reads (polled) the first files it lists."""
    seeds = disk_seeds()
    fields = [disk_fields(s) for s in seeds]
    rng = random.Random(15)
    mounted = 0
    for n in range(MUTATIONS):
        i = rng.randrange(len(seeds))
        image = mutate(rng, seeds[i], fields[i], seeds)
        with watchdog(f"disk image mutation {n}"):
            try:
                read_image(image)
            except FsFormatError:
                pass
            try:
                k = boot(disk_image=image)
            except (FsFormatError, DiskImageError):
                continue
            mounted += 1
            for e in list(k.fs.files.values())[:3]:
                try:
                    k.fs.read_all_polled(e)
                except FsFormatError:
                    pass
    assert mounted > MUTATIONS // 10, mounted


# --- state files ----------------------------------------------------------------------------------

IDLE = "\t.text\n_start:\tclr $16\n\tcall_pal 0x35\n1:\tcall_pal 0x3e\n\tbr 1b\n"


def _station(mac: int | None = None, disk: bytes | None = None) -> Machine:
    m = Machine(2 << 20)
    m.load_kernel(parse_elf(assemble(IDLE, "idle.s", text_base=KSEG_BASE + 0x10120)))
    m.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()
    if mac is not None:
        nic = m.attach_nic(mac)
        for i in range(4):
            m.memory.write_q(0x20000 + 16 * i, 0x30000 + 1536 * i)
            m.memory.write_q(0x20000 + 16 * i + 8, OWNED)
        nic.page[R_RX_RING], nic.page[R_RX_COUNT] = 0x20000, 4
    if disk is not None:
        m.attach_disk(disk)
    m.run(until_cycle=1000)
    return m


def state_seeds() -> list[bytes]:
    """A kernel running a program; a machine with a disk transfer in flight;
    two machines on a lossy wire with a frame on it."""
    k = boot(init=read_elf(BIN / "hello-ev4.elf"), argv=["hello"], halt_when_done=True)
    k.run(30_000)
    seeds = [state.snapshot(k.machine)]
    m = _station(disk=bytes(range(256)) * 64)
    regs = m.disk.page  # type: ignore[union-attr]
    regs[R_BLOCK], regs[R_COUNT], regs[R_DMA] = 3, 2, 0x6000
    regs[R_CMD] = 1
    m.run(until_cycle=m.cpu.cycles + 1000)
    seeds.append(state.snapshot(m))
    w = World()
    a, b = w.add(_station(0x08002B000001)), w.add(_station(0x08002B000002))
    w.connect(Wire(loss=0.3, seed=5), a, b)
    a.memory.write(0x40000, b"\xff" * 6 + bytes.fromhex("08002b00000188b5") + bytes(80))
    a.nic.page[R_TX_ADDR], a.nic.page[R_TX_LEN] = 0x40000, 94  # type: ignore[union-attr]
    a.nic.page[R_TX_CMD] = 1  # type: ignore[union-attr]
    w.run(until_cycle=a.cpu.cycles + 500)
    seeds.append(state.snapshot_world(w))
    return seeds


VALUES: list[Any] = [None, True, False, 0, -1, 1, 1.5, float("nan"), 1e308, "x", "", [], {}, [1, 2], {"a": 1},
                     2**64, 2**64 - 1, -(2**63) - 1, 10**40, "python", "zz", [[[[[]]]]]]  # fmt: skip


def jmutate(rng: random.Random, v: Any) -> Any:
    """``v`` with one thing changed somewhere inside: a field deleted or
    added, a list shortened or repeated, a value replaced by a float, a huge
    number, a string, a deep list (``__DEEP_n__``, expanded after dumping)."""
    if isinstance(v, dict) and v and rng.random() < 0.8:
        v, k, r = dict(v), rng.choice(list(v)), rng.random()
        if r < 0.1:
            del v[k]
        elif r < 0.15:
            v[f"extra{rng.randrange(3)}"] = rng.choice(VALUES)
        else:
            v[k] = jmutate(rng, v[k])
        return v
    if isinstance(v, list) and v and rng.random() < 0.8:
        v, i, r = list(v), rng.randrange(len(v)), rng.random()
        if r < 0.1:
            del v[i]
        elif r < 0.15:
            v.insert(i, rng.choice(VALUES))
        elif r < 0.2:
            v = v * rng.randint(2, 5)
        else:
            v[i] = jmutate(rng, v[i])
        return v
    r = rng.random()
    if r < 0.1:
        return f"__DEEP_{rng.choice((10, 200, 3000, 100_000))}__"
    if type(v) is int and r < 0.6:
        return rng.choice([v + 1, v - 1, -v, v * 2**32, rng.choice(BOUNDARY), float(v)])
    if isinstance(v, str) and r < 0.5:
        return rng.choice([v[: len(v) // 2], v + "0", v.upper(), "g" + v[1:], "disk_done", "nic_rx", "bogus"])
    return rng.choice(VALUES)


def _dumps(v: Any) -> bytes:
    return re.sub(r'"__DEEP_(\d+)__"', lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)), json.dumps(v)).encode()


def _reseal(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    magic, _, body = data.split(b"\n", 2)
    body = edit(body)
    return magic + b"\n" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _edit_json(rng: random.Random) -> Callable[[bytes], bytes]:
    """Edit a world's header or one machine's (resizing its length line), or a machine file's header."""

    def edit(body: bytes) -> bytes:
        kind, _, rest = body.partition(b"\n")
        head, _, tail = rest.partition(b"\n")
        if kind == b"machine":
            return kind + b"\n" + _dumps(jmutate(rng, json.loads(head))) + b"\n" + tail
        if rng.random() < 0.5:
            return kind + b"\n" + _dumps(jmutate(rng, json.loads(head))) + b"\n" + tail
        size, _, machines = tail.partition(b"\n")
        one = machines[: int(size)]
        mhead, _, packed = one.partition(b"\n")
        new = _dumps(jmutate(rng, json.loads(mhead))) + b"\n" + packed
        return kind + b"\n" + head + b"\n" + b"%d\n" % len(new) + new + machines[int(size) :]

    return edit


def test_state_file_fuzz() -> None:
    """Most mutations are re-sealed so the checksum passes: the shape checks
    are what is judged. One that restores is run for 20,000 cycles; a
    refusal must come from a named check, not from a stray exception
    (``StateFileError.unforeseen``)."""
    seeds = state_seeds()
    rng = random.Random(15)
    restored = 0
    for n in range(MUTATIONS):
        seed, r = rng.choice(seeds), rng.random()
        if r < 0.6:
            data = _reseal(seed, _edit_json(rng))
        elif r < 0.85:
            data = _reseal(seed, lambda b: mutate(rng, b, others=seeds))
        else:
            data = mutate(rng, seed, others=seeds)
        with watchdog(f"state file mutation {n}"):
            try:
                world = state.restore_world(data, "m.state")
            except state.StateFileError as e:
                assert str(e).startswith("m.state: ") and not e.unforeseen, str(e)
                continue
            restored += 1
            for m in world.machines:
                m.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()  # Python handlers are not saved
            world.run(until_cycle=world.now + 20_000)
    assert restored > MUTATIONS // 20, restored


# --- assembler sources -------------------------------------------------------------------------


def asm_seeds() -> list[str]:
    """The sources under scenarios/programs that we assemble, the tests' own,
    and listings of two corpus programs as the round-trip test makes them."""
    from tests.machine.test_asm import CALLS, HELLO

    seeds = [(PROGRAMS / "baremetal" / "smoke.s").read_text(), (PROGRAMS / "runtime" / "sigtramp.S").read_text(),
             HELLO, CALLS]  # fmt: skip
    for name in ("hello-ev4", "sieve-ev67"):
        (sec,) = read_elf(BIN / f"{name}.elf").text_sections()
        words = range(0, min(len(sec.data), 1200), 4)
        lines = [disasm_word(int.from_bytes(sec.data[i : i + 4], "little"), sec.addr + i, exact=True) for i in words]
        seeds.append("\t.text\n" + "\n".join("\t" + s.replace("\t", " ") for s in lines))
    return seeds


OPERANDS = ["-1", "0", "1<<70", "1<<-1", "1>>99999", "(" * 300 + "1" + ")" * 300, "-" * 5000 + "1", "1" + "+1" * 3000,
            "~" * 100 + "1", "1/0", "1%0", ".", "1f", "1b", "$99", "$f40", "10**9", "'ab'", '"x"', "0x" + "f" * 40,
            "9" * 5000, "a.b", "_gp", "msg - .", "\x00", "lambda: 1", "[1]", "(1,2)", "1 if 1 else 2", "-0x8000",
            "2**64", "x" * 2000, "()", "%hi(x)", "x!lituse"]  # fmt: skip
DIRECTIVES = [".align -1", ".align 99", ".align 1<<40", ".balign 0", ".balign 3", ".balign -8", ".p2align 70",
              ".space 1<<40", ".space -1", ".skip 1<<20, 7", ".zero 99999999999", ".set x", ".set", ".equ a, b",
              ".set a, a+1", ".quad 1<<64", ".byte 256", ".byte -129", ".ascii", '.asciz "\\x"', '.ascii "abc',
              ".section .foo", ".section", ".globl", ".ent", ".long", ".word 1,2,", ".data", ".bss", ".text",
              "lda $1, 1<<80", "ldiq $1, 1<<100", "ldiq $1", "br 1<<60", "bsr $26, .+2", "call_pal", "call_pal -1",
              "jsr", "jmp ($99)", "ldgp", "x: x:", "1: 1: br 1b", "ldq $1, 1<<20($2)", "addq $1, 256, $2",
              "mov 1<<70, $1", "cvttq/xyz $f1, $f2", "lda $1, " + "(" * 150 + "1" + ")" * 150,
              ".space " + "+".join(["1"] * 500)]  # fmt: skip


def asm_mutate(rng: random.Random, text: str) -> str:
    """Line edits: an operand replaced by a hostile expression, a hostile
    directive inserted, lines deleted, repeated, swapped or byte-mutated."""
    lines = text.splitlines() or [""]
    for _ in range(rng.choice((1, 1, 2, 3, 5))):
        i, r = rng.randrange(len(lines)), rng.random()
        if r < 0.25:
            toks = re.split(r"([,\s()]+)", lines[i])
            words = [j for j, t in enumerate(toks) if t and not re.fullmatch(r"[,\s()]+", t)]
            if words:
                toks[rng.choice(words)] = rng.choice(OPERANDS)
                lines[i] = "".join(toks)
        elif r < 0.5:
            lines.insert(i, "\t" + rng.choice(DIRECTIVES))
        elif r < 0.6 and len(lines) > 1:
            del lines[i]
        elif r < 0.7:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif r < 0.8:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = mutate(rng, lines[i].encode("latin-1", "replace")).decode("latin-1")
    return "\n".join(lines)


def test_assembler_fuzz() -> None:
    """Every error is ``m.s:LINE: message`` (or ``m.s: message``); what
    assembles is an ELF our own loader reads back."""
    seeds = asm_seeds()
    rng = random.Random(15)
    built = 0
    for n in range(MUTATIONS):
        seed = rng.choice(seeds)
        if rng.random() < 0.85:
            src = asm_mutate(rng, seed)
        else:
            src = mutate(rng, seed.encode(), others=[s.encode() for s in seeds]).decode("latin-1")
        with watchdog(f"assembler mutation {n}"):
            try:
                elf = assemble(src, "m.s")
            except AsmError as e:
                assert re.match(r"m\.s(:\d+)?: ", str(e)), str(e)
                continue
            built += 1
            parse_elf(elf, "m.elf")
    assert built > MUTATIONS // 10, built


# --- the command line, for a sample of each -----------------------------------------------------


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    status = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return status, err.strip()


def test_cli_sample_of_mutations_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Mutations each parser refused, handed to the command a student would
    type: `run`, `disasm`, `run --disk`, `asm`. Each is one line naming the
    file, exit 2."""
    rng = random.Random(16)
    seeds = [p.read_bytes() for p in ELF_SEEDS[:6]]
    bad = tmp_path / "bad.elf"
    shown = 0
    while shown < 15:
        s = rng.choice(seeds)
        data = mutate(rng, s, elf_fields(s), seeds)
        try:
            parse_elf(data, "x")
            continue
        except ElfError:
            pass
        bad.write_bytes(data)
        for command in ("run", "disasm"):
            status, line = _one_line(capsys, [command, str(bad)])
            assert status == 2 and line.startswith(f"spinwb {command}: {bad}: "), line
        shown += 1
    images, img, shown = disk_seeds(), tmp_path / "bad.img", 0
    while shown < 15:
        s = rng.choice(images)
        data = mutate(rng, s, disk_fields(s), images)
        try:
            boot(disk_image=data)
            continue
        except (FsFormatError, DiskImageError):
            pass
        img.write_bytes(data)
        status, line = _one_line(capsys, ["run", str(BIN / "hello-ev4.elf"), "--disk", str(img)])
        assert status == 2 and line.startswith(f"spinwb run: {img}: "), line
        shown += 1
    sources, src, shown = asm_seeds(), tmp_path / "bad.s", 0
    while shown < 15:
        text = asm_mutate(rng, rng.choice(sources))
        try:
            assemble(text, "x")
            continue
        except AsmError:
            pass
        src.write_text(text, encoding="utf-8", errors="surrogateescape")
        status, line = _one_line(capsys, ["asm", str(src), "-o", str(tmp_path / "out.elf")])
        assert status == 2 and line.startswith(f"{src}:"), line
        shown += 1
