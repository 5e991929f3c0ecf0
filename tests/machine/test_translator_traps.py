"""Traps in the middle of translated code: the translator must stop with the
same PC, registers and instruction count as the reference interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from machine.alpha.asm import assemble
from tests.conftest import ASM_EXIT_WITH_R4, ASM_START, run_ours

PROGRAMS = {
    # a loop that walks a pointer off the end of .data: faults after many iterations
    "fault_in_loop": """
	lda	$3, buf
	clr	$4
2:	ldq	$1, 0($3)
	addq	$4, $1, $4
	lda	$3, 8($3)
	addq	$4, 1, $4
	bne	$3, 2b
"""
    + ASM_EXIT_WITH_R4
    + "\t.data\nbuf:\t.quad 1, 2, 3\n",
    # an if-converted forward branch whose body faults on the 5th iteration
    "fault_in_hammock": """
	lda	$5, 9
	clr	$4
	lda	$3, buf
2:	subq	$5, 1, $5
	cmpeq	$5, 4, $6
	beq	$6, 3f
	ldq	$1, 0($31)		# reached only when $5 == 4: faults
	addq	$4, $1, $4
3:	addq	$4, 3, $4
	bne	$5, 2b
"""
    + ASM_EXIT_WITH_R4
    + "\t.data\nbuf:\t.quad 1\n",
    # unaligned loads fixed up by the harness, inside a translated loop
    "unaligned_in_loop": """
	lda	$3, buf
	lda	$5, 6
	clr	$4
2:	ldq	$1, 1($3)
	addq	$4, $1, $4
	ldl	$2, 2($3)
	xor	$4, $2, $4
	lda	$3, 3($3)
	subq	$5, 1, $5
	bne	$5, 2b
	srl	$4, 56, $4
"""
    + ASM_EXIT_WITH_R4
    + "\t.data\nbuf:\t.quad 0x1122334455667788, 0x99aabbccddeeff00, 0x0123456789abcdef, 7, 8, 9\n",
    # self-modifying code in an RWX mmap page: run it, patch it (with and
    # without IMB), run it again; each run must see the current code
    "self_modify": """
	clr	$16
	lda	$17, 8192
	lda	$18, 7			# PROT_READ|PROT_WRITE|PROT_EXEC
	lda	$19, 0x12		# MAP_PRIVATE|MAP_ANONYMOUS
	lda	$20, -1
	clr	$21
	lda	$0, 71			# mmap
	callsys
	mov	$0, $9
	ldiq	$2, 0x40803404		# addq $4, 1, $4
	stl	$2, 0($9)
	ldiq	$2, 0x6bfa8001		# ret
	stl	$2, 4($9)
	imb
	clr	$4
	jsr	$26, ($9)
	jsr	$26, ($9)		# 2
	ldiq	$2, 0x40821404		# addq $4, 16, $4
	stl	$2, 0($9)
	imb
	jsr	$26, ($9)		# 18
	ldiq	$2, 0x40841404		# addq $4, 32, $4, stored with no IMB
	stl	$2, 0($9)
	jsr	$26, ($9)		# 50
"""
    + ASM_EXIT_WITH_R4,
}
EXPECTED = {"fault_in_loop": 139, "fault_in_hammock": 139, "self_modify": 50, "unaligned_in_loop": None}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_translator_and_interpreter_agree_on_traps(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.elf"
    path.write_bytes(assemble(ASM_START + PROGRAMS[name], f"{name}.s"))
    fast = run_ours(path, [], translate=True)
    slow = run_ours(path, [], translate=False)
    assert (fast.status, fast.icount, fast.regs, fast.message) == (slow.status, slow.icount, slow.regs, slow.message)
    if EXPECTED[name] is not None:
        assert fast.status == EXPECTED[name], fast.message
