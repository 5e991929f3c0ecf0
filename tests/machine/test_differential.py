"""Every corpus program, on every CPU model, behaves exactly as under qemu-alpha:
same stdout, same stderr, same exit status (including the faulting programs)."""

import pytest

from tests.conftest import CORPUS, CPUS, RUN_ARGS, RUN_STDIN, elf, require, run_kernel, run_ours, run_qemu

EXPECTED_STATUS = {"fault": 139, "divzero": 136, "illegal": 132}


@pytest.mark.oracle
@pytest.mark.parametrize("cpu", CPUS)
@pytest.mark.parametrize("name", CORPUS)
def test_same_as_qemu(name: str, cpu: str) -> None:
    require("qemu-alpha")
    path = elf(name, cpu)
    args = RUN_ARGS.get(name, [])
    stdin = RUN_STDIN.get(name, b"")
    theirs = run_qemu(path, args, stdin, cpu)
    ours = run_ours(path, args, stdin, cpu)
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr
    assert ours.status == theirs.status
    assert ours.status == EXPECTED_STATUS.get(name, ours.status)
    if name in EXPECTED_STATUS:
        assert ours.message, "a fatal fault must be reported in one line"
    booted = run_kernel(path, args, stdin, cpu)  # the same program as a process of the SPIN kernel
    assert booted.stdout == theirs.stdout
    assert booted.stderr == theirs.stderr
    assert booted.status == theirs.status
    assert booted.message == ours.message, "the kernel reports a fault as the harness does"


def test_fault_report_names_kind_pc_address_and_instruction() -> None:
    ours = run_ours(elf("fault", "ev4"), [])
    assert ours.status == 139
    assert ours.message.startswith("SIGSEGV: segmentation fault: load at address 0x8 (not mapped), pc 0x")
    assert ours.message.endswith("ldq $16,8($1)")
    assert "\n" not in ours.message


def test_ev56_code_on_ev4_is_an_illegal_instruction() -> None:
    """BWX instructions need AMASK BWX: a 21064 raises OPCDEC, as qemu -cpu ev4 does."""
    ours = run_ours(elf("bytes", "ev56"), [], cpu="ev4")
    assert ours.status == 132
    assert "needs an AMASK feature ev4 lacks" in ours.message
