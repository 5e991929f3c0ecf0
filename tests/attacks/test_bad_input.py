"""Bad input, class by class: every parser's sizes and offsets, every path a
command takes, every numeric option's range. Each case asserts the one line
a student sees -- the file and what is wrong -- and exit status 2; none may
end in a traceback, a hang or an allocation the size of the number typed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from kernel.boot import boot
from kernel.fs.format import ENTRY, SUPER, FsFormatError, build_image, read_image
from machine import state
from machine.alpha.asm import AsmError, assemble
from machine.alpha.constants import KSEG_BASE
from machine.disk import DiskImageError
from machine.elf import ElfError, read_elf, read_program
from machine.hostfile import HostFileError, read_bytes
from tests.conftest import BIN, ROOT
from workbench.cli.main import main

HELLO = BIN / "hello-ev4.elf"
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``spinwb ARGV`` in this process: (exit status, the one stderr line)."""
    try:
        status = main(list(argv))
    except SystemExit as e:  # argparse's refusals
        status = e.code if isinstance(e.code, int) else 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    return status, lines[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A FIFO nobody writes to: a reader that blocks on it hangs forever."""
    p = tmp_path / "fifo.py"
    os.mkfifo(p)
    return p


# --- the bounded reader -------------------------------------------------------------------


def test_reader_refuses_devices_fifos_directories_and_large_files(tmp_path: Path, fifo: Path) -> None:
    with pytest.raises(HostFileError, match=r"^/dev/zero: too large for an ELF file: more than 1 KiB$"):
        read_bytes("/dev/zero", 1024, "an ELF file")
    assert read_bytes(fifo, 1024) == b""  # no writer: empty at once, not a wait
    with pytest.raises(HostFileError, match=f"^{tmp_path}: is a directory, not a disk image$"):
        read_bytes(tmp_path, 1024, "a disk image")
    big = tmp_path / "big"
    big.write_bytes(bytes(2048))
    with pytest.raises(HostFileError, match="big: too large for a file: more than 1 KiB"):
        read_bytes(big, 1024)
    with pytest.raises(HostFileError, match="nope: no such file$"):
        read_bytes(tmp_path / "nope", 1024)
    with pytest.raises(HostFileError, match="not a usable path"):
        read_bytes("a\0b", 1024)


@pytest.mark.skipif(ROOT_USER, reason="root reads files whatever their mode")
def test_reader_says_permission_denied(tmp_path: Path) -> None:
    p = tmp_path / "secret.elf"
    p.write_bytes(b"x")
    p.chmod(0)
    with pytest.raises(HostFileError, match="secret.elf: cannot read: permission denied"):
        read_bytes(p, 1024)


# --- ELF files -------------------------------------------------------------------------------

EH_PHOFF, EH_SHOFF, EH_SHNUM, EH_SHSTRNDX = 32, 40, 60, 62


def patched(data: bytes, *edits: tuple[int, str, int]) -> bytes:
    """``data`` with struct fields overwritten: (offset, format, value)."""
    b = bytearray(data)
    for off, fmt, value in edits:
        struct.pack_into("<" + fmt, b, off, value)
    return bytes(b)


def _hello() -> tuple[bytes, int, int, int]:
    data = HELLO.read_bytes()
    phoff, shoff = struct.unpack_from("<QQ", data, EH_PHOFF)
    symtab = next(i for i in range(struct.unpack_from("<H", data, EH_SHNUM)[0])
                  if struct.unpack_from("<I", data, shoff + 64 * i + 4)[0] == 2)  # fmt: skip
    return data, phoff, shoff, symtab


def _elf_cases() -> list[tuple[str, Callable[[bytes, int, int, int], bytes], str]]:
    return [
        ("symtab past the end", lambda d, ph, sh, st: patched(d, (sh + 64 * st + 24, "Q", len(d) - 8)),
         r"section 7 \(offset 0x[0-9a-f]+, 0x450 bytes\) extends past the end of the file"),
        ("symtab huge size", lambda d, ph, sh, st: patched(d, (sh + 64 * st + 32, "Q", 1 << 62)),
         r"section 7 \(offset 0x10030, 0x4000000000000000 bytes\) extends past the end of the file \(0x10848 bytes\)"),
        ("symtab entry size", lambda d, ph, sh, st: patched(d, (sh + 64 * st + 56, "Q", 7)),
         r"symbol table \(section 7\) has entries of 7 bytes, not 24"),
        ("symtab link", lambda d, ph, sh, st: patched(d, (sh + 64 * st + 40, "I", 99)),
         r"symbol table \(section 7\) links to section 99, which is not a string table"),
        ("section headers past the end", lambda d, ph, sh, st: patched(d, (EH_SHOFF, "Q", len(d))),
         "section headers .* extend past the end of the file"),
        ("shstrndx", lambda d, ph, sh, st: patched(d, (EH_SHSTRNDX, "H", 0xFFFF)),
         "section-name table index 65535 is not one of the 10 sections"),
        ("segment at 2^42", lambda d, ph, sh, st: patched(d, (ph + 16, "Q", 1 << 42)),
         "segment 0 at 0x40000000000 .* is outside user space"),
        ("segment crossing 2^42", lambda d, ph, sh, st: patched(d, (ph + 16, "Q", (1 << 42) - 0x1000)),
         "segment 0 at 0x3fffffff000 .* is outside user space"),
        ("segment wrapping 2^64", lambda d, ph, sh, st: patched(d, (ph + 16, "Q", (1 << 64) - 0x1000)),
         r"segment 0 at 0xfffffffffffff000 \(\+0x2024\) is outside user space \(below 0x40000000000\) and outside KSEG"),
        ("huge memsz", lambda d, ph, sh, st: patched(d, (ph + 56 + 40, "Q", 1 << 40)),
         "the segments need more than 64 MiB of memory"),
        ("segment past the end", lambda d, ph, sh, st: patched(d, (ph + 32, "Q", 1 << 63), (ph + 40, "Q", 1 << 63)),
         "segment 0 at 0x120000000 extends past end of file"),
        ("user and KSEG", lambda d, ph, sh, st: patched(d, (ph + 56 + 16, "Q", 0xFFFF_FC00_0001_0000)),
         "some segments are in user space and some in KSEG"),
        ("program headers", lambda d, ph, sh, st: patched(d, (EH_PHOFF, "Q", 1 << 63)),
         "truncated or malformed program headers"),
    ]  # fmt: skip


@pytest.mark.parametrize(("what", "edit", "message"), _elf_cases(), ids=[c[0] for c in _elf_cases()])
def test_malformed_elf_is_one_line_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, what: str, edit: Callable[..., bytes], message: str
) -> None:
    bad = tmp_path / "bad.elf"
    bad.write_bytes(edit(*_hello()))
    with pytest.raises(ElfError, match=f"^{bad}: {message}"):
        read_elf(bad)
    for command in ("run", "disasm"):
        status, line = cli(capsys, command, str(bad))
        assert status == 2 and line.startswith(f"spinwb {command}: {bad}: "), line


def test_a_kernel_image_is_not_a_program(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kernel = tmp_path / "smoke.elf"
    source = (ROOT / "scenarios/programs/baremetal/smoke.s").read_text()
    kernel.write_bytes(
        assemble(source, "smoke.s", text_base=KSEG_BASE + 0x10120)
    )  # linked as tests/machine/test_platform.py does
    assert read_elf(kernel).space == "kernel"  # a bare-metal kernel still reads (and disassembles)
    with pytest.raises(ElfError, match="a kernel image linked in KSEG, not a user program"):
        read_program(kernel)
    assert cli(capsys, "run", str(kernel)) == (2, f"spinwb run: {kernel}: a kernel image linked in KSEG, not a user "
                                                  "program")  # fmt: skip
    assert main(["disasm", str(kernel)]) == 0


# --- paths, for every command that takes one ----------------------------------------------


def _path_commands(tmp: Path) -> list[tuple[str, list[str], str]]:
    """(label, argv with {} for the path, the reader's noun)."""
    hello = str(HELLO)
    return [
        ("run FILE", ["run", "{}"], "an ELF file"),
        ("disasm FILE", ["disasm", "{}"], "an ELF file"),
        ("asm FILE", ["asm", "{}", "-o", str(tmp / "a.out")], "assembler source"),
        ("mkfs PATH", ["mkfs", str(tmp / "x.img"), "{}"], "a file on the disk"),
        ("run --disk", ["run", hello, "--disk", "{}"], "a disk image"),
        ("run --ext", ["run", "--ext", "{}", hello], "an extension (Python source)"),
        ("net --run", ["net", "--run", "1:{}"], "an ELF file"),
        ("net --ext", ["net", "--run", f"1:{hello}", "--ext", "1:{}"], "an extension (Python source)"),
        ("ext check", ["ext", "check", "{}"], "an extension (Python source)"),
    ]


PATH_IDS = [c[0] for c in _path_commands(Path("."))]


@pytest.mark.parametrize("index", range(len(PATH_IDS)), ids=PATH_IDS)
def test_every_path_is_checked_missing_directory_and_dev_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: int
) -> None:
    label, argv, noun = _path_commands(tmp_path)[index]
    for path, why in ((str(tmp_path / "nope"), "no such file"), (str(tmp_path), f"is a directory, not {noun}"),
                      ("/dev/zero", f"too large for {noun}: more than ")):  # fmt: skip
        if label == "mkfs PATH" and path == str(tmp_path):
            continue  # a directory's tree is mkfs's to take (tests/fs/test_mkfs_trees.py)
        status, line = cli(capsys, *[a.replace("{}", path) for a in argv])
        assert status == 2, (label, path, line)
        assert f"{path}: {why}" in line or f"{path}: cannot read disk image: {why}" in line, line
        assert "Traceback" not in line


@pytest.mark.parametrize("index", range(len(PATH_IDS)), ids=PATH_IDS)
def test_a_fifo_with_no_writer_does_not_hang(capsys: pytest.CaptureFixture[str], tmp_path: Path, index: int) -> None:
    """Read as empty and refused for that (a program or image), or accepted as
    an empty file where empty is fine (an extension, a file for the disk)."""
    label, argv, _ = _path_commands(tmp_path)[index]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    try:
        status = main([a.replace("{}", str(fifo)) for a in argv])
    except SystemExit as e:
        status = e.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert status in (0, 1, 2), (label, status, err)
    if status == 2:
        assert err.count("\n") == 1 and "fifo" in err, err


def test_not_utf8_source_names_file_line_and_byte(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "prog.s"
    src.write_bytes(b"\t.text\n_start:\tnop\n\tnop \xff\n")
    assert cli(capsys, "asm", str(src)) == (2, f"{src}:3: not UTF-8 text (byte 0xff at offset 24); is it assembler "
                                               "source?")  # fmt: skip
    ext = tmp_path / "ext.py"
    ext.write_bytes(b"\x80")
    assert cli(capsys, "ext", "check", str(ext))[0] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["asm", "{src}", "-o", "{tmp}/no/such/dir/a.out"], "{tmp}/no/such/dir/a.out: cannot write: no such directory "
                                                            "{tmp}/no/such/dir"),
        (["asm", "{src}", "-o", "{tmp}"], "{tmp}: cannot write: is a directory"),
        (["mkfs", "{tmp}/none/x.img", "{src}"], "spinwb mkfs: {tmp}/none/x.img: cannot write: no such directory "
                                                "{tmp}/none"),
        (["mkfs", "{tmp}", "{src}"], "spinwb mkfs: {tmp}: cannot write: is a directory"),
        (["mkfs", "{tmp}/x.img", "a="], "spinwb mkfs: a=: no file after the '=' (write NAME=PATH)"),
        (["net", "--run", "1:{hello}", "--pcap", "{tmp}/none/run.pcap"], "spinwb net: --pcap {tmp}/none/run.pcap: "
                                                                         "cannot write: no such directory {tmp}/none"),
        (["net", "--run", "1:{hello}", "--pcap", "{tmp}"], "spinwb net: --pcap {tmp}: cannot write: is a directory"),
    ],
)  # fmt: skip
def test_outputs_that_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    src = tmp_path / "exit.s"
    src.write_text("\t.text\n_start:\tlda $0, 1\n\tcallsys\n")

    def fill(s: str) -> str:
        return s.format(tmp=tmp_path, src=src, hello=HELLO)

    assert cli(capsys, *map(fill, argv)) == (2, fill(message))


def test_a_lesson_path_that_is_a_fifo_is_refused(capsys: pytest.CaptureFixture[str], fifo: Path) -> None:
    for command in ("shell", "serve"):
        status, line = cli(capsys, command, "--scenario", str(fifo))
        assert status == 2 and f"{fifo}: not a regular file, so not a lesson" in line, line


# --- numeric options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "{hello}", "--max-instructions", "-5"], "spinwb run: argument --max-instructions: -5 is out of range: "
                                                         "from 1 up"),
        (["run", "{hello}", "--max-instructions=0"], "spinwb run: argument --max-instructions: 0 is out of range: from "
                                                     "1 up"),
        (["run", "{hello}", "--max-instructions", "lots"], "spinwb run: argument --max-instructions: 'lots' is not a "
                                                           "whole number"),
        (["run", "--max-instructions", "-1", "{hello}"], "spinwb run: argument --max-instructions: -1 is out of range: "
                                                         "from 1 up (see spinwb run --help)"),
        (["bench", "vm", "--ops", "0"], "spinwb bench: argument --ops: 0 is out of range: from 1 to 1,000,000 (see "
                                        "spinwb bench --help)"),
        (["bench", "threads", "--ops", "-3"], "spinwb bench: argument --ops: -3 is out of range: from 1 to 1,000,000"),
        (["bench", "net", "--ops", "99999999999"], "spinwb bench: argument --ops: 99999999999 is out of range"),
        (["bench", "cpu", "--rounds", "0"], "spinwb bench: argument --rounds: 0 is out of range: from 1 to 1,000,000"),
        (["net", "--loss", "1.5"], "spinwb net: argument --loss: 1.5 is out of range: from 0 to 1"),
        (["net", "--loss", "-0.1"], "spinwb net: argument --loss: -0.1 is out of range: from 0 to 1"),
        (["net", "--loss", "nan"], "spinwb net: argument --loss: nan is out of range: from 0 to 1"),
        (["net", "--loss", "half"], "spinwb net: argument --loss: 'half' is not a number"),
        (["net", "--hosts", "0"], "spinwb net: argument --hosts: 0 is out of range: from 1 to 16"),
        (["net", "--hosts", "17"], "spinwb net: argument --hosts: 17 is out of range: from 1 to 16"),
        (["net", "--until-ms", "0"], "spinwb net: argument --until-ms: 0 is out of range: above 0 to 1e+09"),
        (["net", "--until-ms", "inf"], "spinwb net: argument --until-ms: inf is out of range: above 0 to 1e+09"),
        (["net", "--seed", "1e3"], "spinwb net: argument --seed: '1e3' is not a whole number"),
        (["serve", "--port", "0"], "spinwb serve: argument --port: 0 is out of range: from 1 to 65,535"),
        (["serve", "--port", "65536"], "spinwb serve: argument --port: 65536 is out of range: from 1 to 65,535"),
        (["shell", "--seed", "x"], "spinwb shell: argument --seed: 'x' is not a whole number"),
        (["net", "--run", "1:x 'open"], "spinwb net: --run \"1:x 'open\": no closing quotation"),
        (["net", "--run", "3:x.elf"], "spinwb net: --run '3:x.elf': write HOST:..., HOST a number from 1 to 2"),
        (["net", "--ext", "1:"], "spinwb net: --ext '1:': name an extension file after the host"),
        (["frobnicate"], "spinwb: argument command: invalid choice: 'frobnicate'"),
    ],
)  # fmt: skip
def test_numeric_options_out_of_range_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, line = cli(capsys, *(a.format(hello=HELLO) for a in argv))
    assert status == 2 and line.startswith(message), line


def test_a_refusal_is_one_line_from_a_real_process(tmp_path: Path) -> None:
    """The same through `python -m workbench.cli`: no traceback reaches the terminal."""
    for argv in (["bench", "vm", "--ops", "0"], ["net", "--loss", "2"], ["run", "/dev/zero"]):
        p = subprocess.run([sys.executable, "-m", "workbench.cli", *argv], cwd=ROOT, capture_output=True, timeout=120)
        err = p.stderr.decode()
        assert p.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


# --- disk images ---------------------------------------------------------------------------------


def _image() -> bytes:
    return build_image({"hello": HELLO.read_bytes(), "notes.txt": b"some notes\n" * 40})


def _super(image: bytes, **fields: int) -> bytes:
    magic, nfiles, dir_block, dir_blocks, total = SUPER.unpack_from(image)
    v = {"nfiles": nfiles, "dir_block": dir_block, "dir_blocks": dir_blocks, "total": total} | fields
    return SUPER.pack(magic, v["nfiles"], v["dir_block"], v["dir_blocks"], v["total"]) + image[SUPER.size :]


def _entry(image: bytes, i: int, **fields: object) -> bytes:
    off = 512 + i * ENTRY.size
    name, block, nb, size, mode, pad = ENTRY.unpack_from(image, off)
    v = {"name": name, "block": block, "nb": nb, "size": size} | fields
    new = ENTRY.pack(v["name"], v["block"], v["nb"], v["size"], mode, pad)
    return image[:off] + new + image[off + ENTRY.size :]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda im: _super(im, nfiles=40), "a directory of 40 files does not fit its 1 blocks"),
        (lambda im: _super(im, nfiles=0xFFFF_FFFF), "the superblock says 4294967295 files, more than the 65536"),
        (lambda im: _super(im, dir_blocks=0xFFFF_FFF0), r"the directory \(blocks 1\.\.4294967280\) does not fit the "
                                                        "file system's"),
        (lambda im: _super(im, dir_block=0), r"the directory \(blocks 0\.\.0\) does not fit"),
        (lambda im: _super(im, total=1 << 31), "the superblock says 2147483648 blocks, but the disk has only"),
        (lambda im: _entry(im, 1, nb=1 << 30), r"directory entry 1 \(notes.txt\): extent \d+\+1073741824 does not fit"),
        (lambda im: _entry(im, 0, size=1 << 40), r"directory entry 0 \(hello\): extent .* does not fit the disk"),
        (lambda im: _entry(im, 1, name=b"hello"), "directory entry 1: a second file named hello"),
        (lambda im: _entry(im, 0, name=b""), "directory entry 0: an empty name"),
        (lambda im: b"SPINFS01" + bytes(10), "too short for a superblock"),
        (lambda im: b"NOTSPIN!" + im[8:], "not an extent file system"),
    ],
)  # fmt: skip
def test_malformed_disk_images_mount_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: Callable[[bytes], bytes], message: str
) -> None:
    image = edit(_image())
    with pytest.raises(FsFormatError, match=message):
        read_image(image)  # the host tool's reading
    if len(image) % 512:
        return  # not a disk at all: the next test's business
    with pytest.raises(FsFormatError, match=message):
        boot(disk_image=image)  # the kernel's mount
    path = tmp_path / "bad.img"
    path.write_bytes(image)
    status, line = cli(capsys, "run", str(HELLO), "--disk", str(path))
    assert status == 2 and line.startswith(f"spinwb run: {path}: ") and re.search(message, line), line


def test_disk_image_sizes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(1000))
    assert cli(capsys, "run", str(HELLO), "--disk", str(odd)) == (
        2, f"spinwb run: {odd}: disk image is 1000 bytes, not a positive multiple of 512")  # fmt: skip
    with pytest.raises(DiskImageError, match="/dev/zero: cannot read disk image: too large for a disk image: more "
                                             "than 256 MiB"):  # fmt: skip
        boot(disk_image="/dev/zero")


# --- state files --------------------------------------------------------------------------------


def _machine_state() -> bytes:
    k = boot(init=read_elf(HELLO), argv=["hello"], halt_when_done=True)
    k.run(20_000)
    return state.snapshot(k.machine)


def resealed(data: bytes, edit: Callable[[dict], object] | None = None, raw: Callable[[bytes], bytes] | None = None,
             ) -> bytes:  # fmt: skip
    """A state file whose machine header (or body) was edited and whose
    checksum was recomputed: well-formed, not a state we can use."""
    magic, _, body = data.split(b"\n", 2)
    kind, _, rest = body.partition(b"\n")
    head, _, packed = rest.partition(b"\n")
    if edit is not None:
        h = json.loads(head)
        edit(h)
        head = json.dumps(h).encode()
    body = kind + b"\n" + head + b"\n" + packed
    if raw is not None:
        body = raw(body)
    return magic + b"\n" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _set(path: str, value: object) -> Callable[[dict], None]:
    def edit(h: dict) -> None:
        *parents, last = path.split(".")
        for p in parents:
            h = h[int(p)] if isinstance(h, list) else h[p]
        if value is KeyError:
            del h[last]
        elif isinstance(h, list):
            h[int(last)] = value
        else:
            h[last] = value

    return edit


def _two(a: Callable[[dict], None], b: Callable[[dict], None]) -> Callable[[dict], None]:
    def both(h: dict) -> None:
        a(h)
        b(h)

    return both


def _disk(events: list, regs: list | None = None) -> dict:
    """A one-block disk's saved state with ``events`` in flight."""
    return {"regs": regs or [0] * 7 + [1], "cylinder": 0, "completed": 0, "bad_blocks": [],
            "data": zlib.compress(bytes(512)).hex(), "events": events}  # fmt: skip


def _nic(events: list) -> dict:
    return {"mac": 1, "regs": [1] + [0] * 11, "sent": 0, "received": 0, "events": events}


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("edit", "raw", "message"),
    [
        (_set("cpu.pc", KeyError), None, "cpu has no 'pc' field"),
        (_set("cpu.extra", 1), None, "cpu has an unexpected field 'extra'"),
        (_set("spare", 1), None, "the header has an unexpected field 'spare'"),
        (_set("cpu.pc", 1.5), None, "cpu.pc should be an integer, not a number with a fraction"),
        (_set("cpu.pc", True), None, "cpu.pc should be an integer, not true/false"),
        (_set("cpu.pc", 1 << 64), None, "cpu.pc is 18446744073709551616, outside 0x0..0xffffffffffffffff"),
        (_set("cpu.icount", 10**60), None, "cpu.icount is a 200-bit number, outside"),
        (_set("cpu.r", [0] * 31), None, "cpu.r should hold 32 items, not 31"),
        (_set("cpu.r.5", "five"), None, r"cpu.r\[5\] should be an integer, not a string"),
        (_set("memory_size", 1 << 40), None, "memory_size is 1099511627776, outside 0x2000..0x40000000"),
        (_set("memory_size", 12345), None, "memory_size 12345 is not a whole number of 8192-byte pages"),
        (_set("model", ["ev4"]), None, r"unknown CPU model \"\['ev4'\]\""),
        (_set("pal.idle", 0), None, "pal.idle should be true or false, not an integer"),
        (_set("pal.pending", [[99, 0, 0]]), None, r"pal.pending\[0\]: interrupt level 99 is not 0..31"),
        (_set("mmu.itb.entries", [[1, 1, 1]] * 40), None, r"mmu.itb.entries holds 40 items, more than 8"),
        (_set("mmu.dtb.entries", [[1, 1, 1]] * 2), None, r"mmu.dtb.entries holds one page twice"),
        (_set("disk", _disk([[1, 1, "format_disk", []]])), None, r"disk.events\[0\]: unknown device event 'format_disk'"),
        (_set("disk", _disk([[1, 1, "done", [1, 0, 2, 0]]])), None, "reaches block 2, past the disk's 1"),
        (_set("disk", _disk([], regs=[0] * 8)), None, r"disk.regs\[7\] says 0 blocks; the image holds 1"),
        (_set("nic", _nic([[1, 1, "rx", []]])), None, r"nic.events\[0\] arguments should hold 1 items, not 0"),
        (_set("nic", _nic([[1, 1, "rx", [7]]])), None, "it waits for frame 7, which is on no wire"),
        (_two(_set("timer.ticks", 0), _set("cpu.cycles", 1 << 40)), None, "timer.ticks 0 is far behind the clock"),
        (None, lambda b: b.replace(b'"cpu":', b'"cpu":' + DEEP.encode() + b',"x":', 1), "the header is nested too "
                                                                                       "deeply"),
        (None, lambda b: b.replace(b'"ticks":0', b'"ticks":1e999', 1), "timer.ticks should be an integer, not a "
                                                                      "number with a fraction"),
        (None, lambda b: b.replace(b'"ticks":0', b'"ticks":' + b"9" * 5000, 1), "the header is not JSON"),
        (None, lambda b: b[: b.index(b"\n", 10) + 1] + zlib.compress(bytes(1 << 26)), "more frames than|is not whole "
                                                                                      "frames|reaches"),
    ],
)  # fmt: skip
def test_state_files_of_the_wrong_shape_name_the_field(
    tmp_path: Path, edit: Callable[[dict], None] | None, raw: Callable[[bytes], bytes] | None, message: str | None
) -> None:
    path = tmp_path / "odd.state"
    path.write_bytes(resealed(_machine_state(), edit, raw))
    with pytest.raises(state.StateFileError, match=message) as e:
        state.load(path)
    assert str(e.value).startswith(f"{path}: the machine does not fit this workbench: ")
    assert not e.value.unforeseen


def test_a_state_file_that_inflates_without_end_is_refused_quickly() -> None:
    """A memory image of zlib that would inflate to gigabytes: refused a frame at a time."""
    bomb = zlib.compress(b"\x00" * (256 << 20), 9)  # a quarter of a GiB of zeros in a few hundred KiB
    data = resealed(_machine_state(), raw=lambda b: b[: b.index(b"\n", 10) + 1] + bomb)
    with pytest.raises(state.StateFileError, match="holds more frames than the machine's 8192|not whole frames"):
        state.restore(data, "bomb.state")


def test_state_file_paths(tmp_path: Path, fifo: Path) -> None:
    with pytest.raises(state.StateFileError, match="^/dev/zero: too large for a state file: more than 512 MiB$"):
        state.load("/dev/zero")
    with pytest.raises(state.StateFileError, match="not a SPIN Workbench state file"):
        state.load(fifo)
    with pytest.raises(state.StateFileError, match=f"^{tmp_path}: is a directory, not a state file$"):
        state.load(tmp_path)


# --- assembler input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (".align -1", ".align -1: give the alignment as a power of two from 0 to 16"),
        (".align 1<<40", ".align 1099511627776: give the alignment as a power of two from 0 to 16"),
        (".p2align 17", ".p2align 17: give the alignment as a power of two from 0 to 16"),
        (".balign 0", ".balign 0: the alignment must be a power of two from 1 to 65536"),
        (".balign 24", ".balign 24: the alignment must be a power of two"),
        (".balign -8", ".balign -8: the alignment must be a power of two"),
        (".space 1<<40", ".space 1099511627776: more than the 64 MiB a program may have"),
        (".space -1", ".space needs a non-negative constant size"),
        (".zero 99999999999999999999", ".zero 99999999999999999999: more than the 64 MiB"),
        ("lda $1, 1<<-1", "shift count -1 in '1<<-1' is not 0..127"),
        ("lda $1, 1<<99999999999", "shift count 99999999999 in '1<<99999999999' is not 0..127"),
        (".quad (1<<100)*(1<<100)", r"value of '\(1<<100\)\*\(1<<100\)' is out of range \(more than 128 bits\)"),
        ("lda $1, " + "-" * 5000 + "1", "expression is 5001 characters long, more than 1000"),
        ("lda $1, " + "+".join(["1"] * 300), "expression nested more than 64 deep"),
        ("lda $1, " + "~" * 900 + "1", "expression nested more than 64 deep|expression nested too deeply"),
        ("lda $1, " + "(" * 300 + "1" + ")" * 300, "bad expression"),
        ("lda $1, 1\x00", "bad expression"),
        (".set x", ".set takes a symbol and a value"),
        (".equ", ".equ takes a symbol and a value"),
    ],
)
def test_assembler_limits_are_file_line_message(line: str, message: str) -> None:
    with pytest.raises(AsmError, match=f"^lesson.s:3: {message}"):
        assemble(f"\t.text\n_start:\n\t{line}\n\tnop\n", "lesson.s")


def test_assembler_program_size_and_empty_programs() -> None:
    with pytest.raises(AsmError, match=r"^big.s:6: the program passes 64 MiB \(.text, .data and .bss together\)"):
        assemble("\t.text\n\t.space 1<<25\n\t.data\n\t.space 1<<25\n\t.bss\n\t.space 1<<25\n", "big.s")
    with pytest.raises(AsmError, match=r"^empty.s: nothing to assemble \(no instructions or data\)"):
        assemble("# only a comment\n\t.text\n", "empty.s")


def test_asm_exits_2_with_file_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "align.s"
    src.write_text("\t.text\n_start:\n\t.align -3\n")
    assert cli(capsys, "asm", str(src), "-o", str(tmp_path / "a.out")) == (
        2, f"{src}:3: .align -3: give the alignment as a power of two from 0 to 16 (2^16 = 64 KiB, the sections' own "
           "alignment)")  # fmt: skip
    assert not (tmp_path / "a.out").exists(), "nothing written for a source that did not assemble"


# --- workbench snapshots (snapshot load in the shell and the TUI) ----------------------------


def _session(tmp_path: Path) -> tuple[object, Path]:
    from workbench.session import Session
    from workbench.shell.commands import execute

    w = Session(HELLO)
    assert not execute(w, "step 100").error
    good = tmp_path / "good.snap"
    assert not execute(w, f"snapshot save {good}").error
    return w, good


def _doc_cases() -> list[tuple[str, Callable[[dict], object], str]]:
    return [
        ("huge step", lambda d: d["log"].append(["step", 10**12, None]), "action 1 (step) instructions should be a whole "
                                                                         "number from 0 to 1,000,000,000"),
        ("float step", lambda d: d["log"].append(["step", 1.5, None]), "action 1 (step) instructions should be a whole "
                                                                       "number"),
        ("unknown action", lambda d: d["log"].append(["format", "c:"]), "action 1: unknown kind 'format'"),
        ("extra argument", lambda d: d["log"].append(["scenario", 1]), "action 1 (scenario) should have 0 "
                                                                       "arguments, not 1"),
        ("many steps", lambda d: d.__setitem__("log", [["step", 10**9, None]] * 11), "replaying it would run "
                                                                                     "11,000,000,000 instructions"),
        ("host", lambda d: d["log"].append(["unload", -1, "x"]), "action 1 (unload) host should be a whole number "
                                                                 "from 0 to 63"),
        ("extension a device", lambda d: d["log"].append(["load", 0, {"path": "/dev/zero", "settings": {}}]),
         "action 1 (load) names /dev/zero, which is not a regular file"),
        ("program a device", lambda d: d["source"].__setitem__("program", "/dev/zero"),
         "the source names /dev/zero, which is not a regular file"),
    ]  # fmt: skip


@pytest.mark.parametrize(("what", "edit", "message"), _doc_cases(), ids=[c[0] for c in _doc_cases()])
def test_snapshot_load_refuses_the_wrong_shape_and_keeps_the_world(
    tmp_path: Path, what: str, edit: Callable[[dict], object], message: str
) -> None:
    from workbench.shell.commands import execute

    w, good = _session(tmp_path)
    doc = json.loads(good.read_text())
    edit(doc)
    bad = tmp_path / "bad.snap"
    bad.write_text(json.dumps(doc))
    before = w.hashes()  # type: ignore[attr-defined]
    r = execute(w, f"snapshot load {bad}")  # type: ignore[arg-type]
    assert r.error and str(r.body).startswith(f"{bad}: ") and message in str(r.body), r.body
    assert w.hashes() == before  # type: ignore[attr-defined]


def test_snapshot_load_of_devices_fifos_and_deep_json(tmp_path: Path, fifo: Path) -> None:
    from workbench.shell.commands import execute

    w, good = _session(tmp_path)
    deep = tmp_path / "deep.snap"
    deep.write_text(DEEP)
    for path, message in (("/dev/zero", "/dev/zero: too large for a snapshot: more than 16 MiB"),
                          (str(fifo), f"{fifo}: not a workbench snapshot (not JSON)"),
                          (str(deep), f"{deep}: not a workbench snapshot (JSON nested too deeply)"),
                          (str(tmp_path), f"{tmp_path}: is a directory, not a snapshot")):  # fmt: skip
        r = execute(w, f"snapshot load {path}")  # type: ignore[arg-type]
        assert r.error and str(r.body) == message, r.body
    assert not execute(w, f"snapshot load {good}").error  # type: ignore[arg-type]
    r = execute(w, f"load {fifo}")  # type: ignore[arg-type]
    assert r.error and str(r.body) == f"{fifo}: not a regular file, so not an extension"


def test_a_snapshot_cannot_carry_the_owners_rights_into_a_classroom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`load --root` is refused in a served workbench; a snapshot whose log
    says it happened is refused there too, before anything is replayed."""
    from workbench.shell.commands import CLASSROOM_ENV, execute

    w, good = _session(tmp_path)
    doc = json.loads(good.read_text())
    doc["log"].append(["load", 0, {"path": "extensions/lottery.py", "settings": {}, "importer": "root"}])
    bad = tmp_path / "root.snap"
    bad.write_text(json.dumps(doc))
    monkeypatch.setenv(CLASSROOM_ENV, "1")
    r = execute(w, f"snapshot load {bad}")  # type: ignore[arg-type]
    assert r.error and str(r.body) == (f"{bad}: action 1 (load) loads an extension with the owner's rights, which a "
                                       "workbench served to a classroom does not allow")  # fmt: skip
    doc["log"][-1][2]["importer"] = "kernel"
    bad.write_text(json.dumps(doc))
    r = execute(w, f"snapshot load {bad}")  # type: ignore[arg-type]
    assert r.error and "rights 'kernel' are neither a user's nor the owner's" in str(r.body)
