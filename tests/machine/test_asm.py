"""The assembler: round trip of the corpus, programs that run, and errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from machine.alpha.asm import AsmError, assemble
from machine.alpha.disasm import disasm_word
from machine.elf import parse_elf, read_elf
from tests.conftest import BIN, run_ours


def _text(path: Path) -> tuple[int, bytes]:
    img = read_elf(path)
    (sec,) = img.text_sections()
    return sec.addr, sec.data


@pytest.mark.parametrize("path", sorted(BIN.glob("*-ev*.elf")), ids=lambda p: p.name)
def test_round_trip_of_corpus_text(path: Path) -> None:
    """Assembling the disassembly of a text section reproduces its words."""
    addr, data = _text(path)
    lines = ["\t.text"]
    for i in range(0, len(data) - 3, 4):
        w = int.from_bytes(data[i : i + 4], "little")
        lines.append("\t" + disasm_word(w, addr + i, exact=True).replace("\t", " "))
    out = parse_elf(assemble("\n".join(lines), path.name, text_base=addr))
    (sec,) = out.text_sections()
    assert sec.addr == addr
    if sec.data != data[: len(sec.data)]:
        for i in range(0, len(data), 4):
            if sec.data[i : i + 4] != data[i : i + 4]:
                w = int.from_bytes(data[i : i + 4], "little")
                pytest.fail(f"word at {addr + i:#x}: {disasm_word(w, addr + i, exact=True)!r} re-assembled differently")
    assert sec.data == data


HELLO = """
	.text
	.globl	_start
	.ent	_start
_start:	br	$29, 1f
1:	ldgp	$29, 0($29)
	lda	$16, 1			# fd 1
	lda	$17, msg
	ldiq	$18, msgend - msg
	lda	$0, 4($31)		# write
	callsys
	bne	$19, fail
	clr	$16
	ldiq	$1, 0x123456789abcdef0	# a 64-bit constant
	srl	$1, 60, $2
	addq	$16, $2, $16		# exit status 1
	lda	$0, 1
	call_pal 0x83
fail:	lda	$16, 99
	lda	$0, 1
	callsys
	.end	_start
	.data
msg:	.asciz	"assembled!\\n"
msgend = . - 1
	.align	3
table:	.quad	msg, _start, 42
"""


def test_assembled_program_runs(tmp_path: Path) -> None:
    path = tmp_path / "hello.elf"
    path.write_bytes(assemble(HELLO, "hello.s"))
    out = run_ours(path, [])
    assert out.stdout == b"assembled!\n"  # msgend = . - 1 leaves out the NUL
    assert out.status == 1


CALLS = """
	.text
	.globl	_start
	.ent	_start
_start:	br	$29, 1f
1:	ldgp	$29, 0($29)
	lda	$16, 20
	jsr	$26, double		# gas-style call through $27
	ldgp	$29, 0($26)
	mov	$0, $16
	jsr	triple			# ra defaults to $26
	mov	$0, $16
	lda	$0, 1
	callsys
	.end	_start
	.ent	double
double:	ldgp	$29, 0($27)
	addq	$16, $16, $0
	ret
	.end	double
	.ent	triple
triple:	s4subq	$16, $16, $0		# 4x - x
	ret	$31, ($26), 1
	.end	triple
"""


def test_backward_label_in_lda_macro(tmp_path: Path) -> None:
    """A label defined before its use still gets a full-size address load."""
    src = (
        '\t.data\nmsg:\t.ascii "ok\\n"\n\t.text\n\t.globl _start\n_start:\n\tlda $16, 1\n\tlda $17, msg\n'
        "\tlda $18, 3\n\tlda $0, 4\n\tcallsys\n\tclr $16\n\tlda $0, 1\n\tcallsys\n"
    )
    path = tmp_path / "back.elf"
    path.write_bytes(assemble(src, "back.s"))
    out = run_ours(path, [])
    assert (out.stdout, out.status) == (b"ok\n", 0)


def test_jsr_to_a_function_symbol(tmp_path: Path) -> None:
    path = tmp_path / "calls.elf"
    path.write_bytes(assemble(CALLS, "calls.s"))
    assert run_ours(path, []).status == 120


def test_assembled_program_runs_under_qemu(tmp_path: Path) -> None:
    from machine.alpha.asm import assemble_file
    from tests.conftest import require

    qemu = require("qemu-alpha")
    src = tmp_path / "hello.s"
    src.write_text(HELLO)
    assemble_file(src, tmp_path / "hello.elf")
    p = subprocess.run([qemu, str(tmp_path / "hello.elf")], capture_output=True)
    assert (p.stdout, p.returncode) == (b"assembled!\n", 1)


@pytest.mark.parametrize(
    ("src", "line", "fragment"),
    [
        ("\taddq $1, $2\n", 1, "addq takes ra, rb or literal, rc"),
        ("\n\tldq $1, 70000($2)\n", 2, "does not fit in 16 signed bits"),
        ("\tfrob $1, $2\n", 1, "unknown instruction 'frob'"),
        ("\taddq $1, 300, $2\n", 1, "literal 300 is out of range 0..255"),
        ("\tbr nowhere\n", 1, "undefined symbol 'nowhere'"),
        ("x:\nx:\n", 2, "label 'x' defined twice"),
        ("\taddt/q $f1,$f2,$f3\n", 1, "qualifier /q is not valid for addt"),
        ("\t.frobnicate 1\n", 1, "unknown directive '.frobnicate'"),
        ("\t.section .weird\n", 1, "section '.weird' is not supported"),
        ("\tldq $1, 8($40)\n", 1, "expected integer register ($0..$31 or a name like sp), got '$40'"),
        ("\tbr 1b\n", 1, "no earlier local label '1:'"),
    ],
)
def test_errors_name_file_and_line(src: str, line: int, fragment: str) -> None:
    with pytest.raises(AsmError) as e:
        assemble(src, "lesson.s")
    assert str(e.value).startswith(f"lesson.s:{line}: ")
    assert fragment in str(e.value)


class _NoPal:
    def call_pal(self, cpu: object, fn: int, pc: int) -> int:
        raise AssertionError("no PAL calls expected")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300)
@given(st.one_of(st.integers(-(1 << 63), (1 << 64) - 1),
                 st.sampled_from([0x7FFF8000, 0x7FFFFFFF, 0x80000000, 0x7FFFFFFFFFFFFFFF, -0x8000, 0xFFFFFFFF7FFF8000])))  # fmt: skip
def test_ldiq_builds_every_64_bit_constant(value: int) -> None:
    """Run the instructions `ldiq` expands to on the reference interpreter."""
    from machine.alpha.asm import Assembler
    from machine.alpha.cpu import CPU
    from machine.alpha.decode import decode
    from machine.usermode import UserPages

    words = Assembler()._build_constant(5, value)
    assert 1 <= len(words) <= 6
    cpu = CPU(UserPages(), _NoPal())
    for w in words:
        ins = decode(w)
        assert ins is not None
        cpu.execute(ins, 0)
    assert cpu.r[5] == value & ((1 << 64) - 1)
