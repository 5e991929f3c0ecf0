"""The block translator against the reference interpreter, on the whole corpus:
same output, same exit status, same instruction count and final registers."""

import pytest

from tests.conftest import CORPUS, CPUS, RUN_ARGS, RUN_STDIN, elf, run_ours

# The interpreter is slow: cap the long-running programs; both engines stop
# at the same exact instruction budget.
BUDGET = 1_500_000


@pytest.mark.parametrize("cpu", CPUS)
@pytest.mark.parametrize("name", CORPUS)
def test_translator_matches_interpreter(name: str, cpu: str) -> None:
    path = elf(name, cpu)
    args, stdin = RUN_ARGS.get(name, []), RUN_STDIN.get(name, b"")
    fast = run_ours(path, args, stdin, cpu, translate=True, max_instructions=BUDGET)
    slow = run_ours(path, args, stdin, cpu, translate=False, max_instructions=BUDGET)
    assert fast.stdout == slow.stdout
    assert fast.status == slow.status
    assert fast.icount == slow.icount
    assert fast.regs == slow.regs
    assert fast.message == slow.message


def test_budget_is_exact() -> None:
    for n in (1, 7, 1000, 12345):
        assert run_ours(elf("sieve", "ev4"), [], max_instructions=n).icount == n
