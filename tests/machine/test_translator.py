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


def test_register_stand_ins_give_every_template_the_expression_its_own_registers_would() -> None:
    """``_expr`` runs the ast passes once per form, with stand-ins for register
    locals: for every template, with distinct, equal, zero and literal operands,
    the text must be what the passes give on the real names."""
    from machine.alpha import isa
    from machine.alpha.translate import _expr, _expr_of

    forms = [{"a": "x5", "b": "x7"}, {"a": "x12", "b": "x12"}, {"a": "0", "b": "x3"}, {"a": "x30", "b": "17"},
             {"a": "x1", "b": "0"}, {"b": "x10", "d": "-8"}, {"b": "x2", "d": "0"}, {"v": "v"}]  # fmt: skip
    checked = 0
    for op in isa.TABLE:
        if not op.sem:
            continue
        for names in forms:
            try:
                want = _expr_of.__wrapped__(op.sem, tuple(sorted(names.items())))
            except SyntaxError:
                continue
            assert _expr(op.sem, **names) == want, (op.name, names)
            checked += 1
    assert checked > 500
