"""Arithmetic traps: the /V integer forms and IEEE exceptions the program
enabled in the FPCR end the program with SIGFPE, exactly as under qemu-alpha;
with traps disabled (the default), the IEEE results are delivered instead."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from machine.alpha.asm import assemble_file
from tests.conftest import ASM_EXIT_WITH_R4, ASM_START, require, run_ours

CASES = {
    # ADDQ/V overflow traps; ADDQ does not
    "addqv": "\tldiq $1, 0x7fffffffffffffff\n\taddq $1, 1, $4\n\taddq/v $1, 1, $4\n" + ASM_EXIT_WITH_R4,
    "mullv_ok": "\tlda $1, 300\n\tmull/v $1, $1, $4\n\tsrl $4, 8, $4\n" + ASM_EXIT_WITH_R4,
    # 1.0 / 0.0 with the default FPCR (traps disabled): +inf, no signal
    "fdiv_default": """
	ldiq	$1, 0x3ff0000000000000
	stq	$1, -8($30)
	ldt	$f1, -8($30)
	divt/su	$f1, $f31, $f2
	stt	$f2, -8($30)
	ldq	$4, -8($30)
	srl	$4, 56, $4
"""
    + ASM_EXIT_WITH_R4,
    # the same after enabling the divide-by-zero trap (clearing FPCR<DZED>): SIGFPE
    "fdiv_enabled": """
	mf_fpcr	$f3
	stt	$f3, -8($30)
	ldq	$2, -8($30)
	ldiq	$3, 0x0004000000000000	# FPCR<DZED> (bit 50)
	bic	$2, $3, $2
	stq	$2, -8($30)
	ldt	$f3, -8($30)
	mt_fpcr	$f3
	ldiq	$1, 0x3ff0000000000000
	stq	$1, -8($30)
	ldt	$f1, -8($30)
	divt/su	$f1, $f31, $f2
	lda	$4, 7
"""
    + ASM_EXIT_WITH_R4,
    # without /S there is no software completion: divide by zero traps even
    # with the default FPCR, where divt/su above delivered +inf
    "fdiv_no_s": """
	ldiq	$1, 0x3ff0000000000000
	stq	$1, -8($30)
	ldt	$f1, -8($30)
	divt	$f1, $f31, $f2
	lda	$4, 5
"""
    + ASM_EXIT_WITH_R4,
    # a non-/S instruction traps on an infinite input whatever the FPCR says
    "inf_input": """
	ldiq	$1, 0x7ff0000000000000
	stq	$1, -8($30)
	ldt	$f1, -8($30)
	addt	$f1, $f1, $f2
	lda	$4, 9
"""
    + ASM_EXIT_WITH_R4,
}
EXPECTED = {
    "addqv": 136,
    "mullv_ok": 351 & 0xFF,
    "fdiv_default": 0x7F,
    "fdiv_enabled": 136,
    "fdiv_no_s": 136,
    "inf_input": 136,
}


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(CASES))
def test_arithmetic_traps_match_qemu(name: str, tmp_path: Path) -> None:
    src = tmp_path / f"{name}.s"
    src.write_text(ASM_START + CASES[name])
    elf = tmp_path / f"{name}.elf"
    assemble_file(src, elf)
    ours = run_ours(elf, [], cpu="ev67")
    assert ours.status == EXPECTED[name], ours.message
    qemu = require("qemu-alpha")
    p = subprocess.run([qemu, "-cpu", "ev67", str(elf)], capture_output=True, timeout=60)
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    assert status == ours.status
    if status == 136:
        assert ours.message.startswith("SIGFPE: arithmetic trap")
