"""`spinwb bench cpu` and `spinwb bench lessons` (issue 22): the figures are
the right ones -- a counting run that counts blocks as they run without
changing the instruction count, a general-code mean without the division-bound
bench, qemu-alpha's output checked -- and bad names are refused in one line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from machine.alpha.asm import assemble
from machine.elf import parse_elf
from machine.usermode import UserProgram
from tests.conftest import ASM_EXIT_WITH_R4, ASM_START, require
from workbench.bench import cpu, lessons
from workbench.cli.main import main

# A loop of two instructions entered by a branch, so it is a block of its own
# that the translator runs as a while loop: 100 iterations, 100 blocks.
LOOP = """
	lda	$1, 100($31)
	clr	$4
	br	$31, 2f
2:	subq	$1, 1, $1
	bne	$1, 2b
"""
# br $29 | ldah, lda (ldgp), lda, clr, br | (subq, bne) x 100 | mov, lda, callsys
LOOP_INSTRUCTIONS = 1 + 5 + 2 * 100 + 3
LOOP_BLOCKS = 1 + 1 + 100 + 1


def _loop_program() -> UserProgram:
    image = parse_elf(assemble(ASM_START + LOOP + ASM_EXIT_WITH_R4, "loop.s"))
    return UserProgram(image, ["loop"], stdout=io.BytesIO())


def test_counting_run_counts_each_iteration_of_a_self_loop_as_a_block() -> None:
    proc = _loop_program()
    counter = cpu.counted_run(proc)
    assert proc.exited is not None and proc.exited.status == 0
    assert proc.cpu.icount == LOOP_INSTRUCTIONS
    assert counter.entered == LOOP_BLOCKS
    assert counter.translated == 4


def test_counting_run_keeps_the_instruction_count_and_registers() -> None:
    """The count is of the same run: a wrapper that changed what runs would show here."""
    plain = _loop_program()
    plain.run()
    counted = _loop_program()
    cpu.counted_run(counted)
    assert (counted.cpu.icount, counted.cpu.r, counted.cpu.cycles) == (plain.cpu.icount, plain.cpu.r, plain.cpu.cycles)
    w = cpu.Workload("strings", 1, True)
    n, blocks, translated, out = cpu.count_blocks(w, 1)
    k, _, _ = cpu.time_tier(w, 1, cpu.Tier("translated", True, None))
    assert n == k and 3 < n / blocks < 30 and 0 < translated < blocks
    assert out.startswith(b"strings rounds=1 ")


def _small(qemu: bool) -> dict:
    return cpu.bench(rounds=1, runs=1, qemu=qemu, workloads=(cpu.Workload("bench", 1, False), cpu.Workload("strings", 1, True)),
                     tiers=(cpu.Tier("translated", True, None), cpu.Tier("interpreted", False, 20_000)))  # fmt: skip


def test_bench_cpu_json_has_every_figure_and_a_general_mean_without_bench() -> None:
    res = _small(qemu=False)
    assert res["tiers"] == ["translated", "interpreted"] and res["runs"] == 1
    rows = {r["name"]: r for r in res["workloads"]}
    assert set(rows) == {"bench", "strings"}
    for r in rows.values():
        assert r["instructions"] > 100_000 and r["blocks"] > r["blocks_translated"] > 0
        assert r["insns_per_block"] == round(r["instructions"] / r["blocks"], 2)
        assert r["translated"]["instructions"] == r["instructions"]
        assert r["interpreted"]["instructions"] == 20_000  # the budget, not the whole program
        assert r["translated"]["mips"] > 0 and r["interpreted"]["mips"] > 0
    assert res["general_geomean"] == {"translated": rows["strings"]["translated"]["mips"],
                                      "interpreted": rows["strings"]["interpreted"]["mips"]}  # fmt: skip
    text = "\n".join(cpu.report(res))
    assert "general code (geometric mean)" in text and "insns/block" in text and ">= 10 MIPS" in text


def test_a_steady_column_is_the_marginal_rate_of_longer_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tier with ``steady`` also runs k times the rounds; its column is what the
    extra instructions cost, so warm-up (translating, compiling) drops out. Without
    wasmtime the report says why there is no native column."""
    monkeypatch.setattr(cpu, "native_available", lambda: False)
    res = cpu.bench(rounds=1, runs=1, qemu=False, workloads=(cpu.Workload("strings", 1, True),),
                    tiers=(cpu.Tier("native", True, None, True, 3), cpu.Tier("translated", True, None, False, 3)))  # fmt: skip
    assert res["tiers"] == ["translated"] and res["steady"] == {"translated": 3}
    (row,) = res["workloads"]
    short, long = row["translated"], row["translated steady"]
    assert long["instructions"] > 2.5 * short["instructions"]
    dt = long["host_seconds"] - min(short["runs_seconds"])
    assert long["mips"] == pytest.approx((long["instructions"] - short["instructions"]) / dt / 1e6, rel=0.01)
    assert res["general_geomean"]["translated steady"] == long["mips"]
    text = "\n".join(cpu.report(res))
    assert "translated steady" in text.splitlines()[1] and "the marginal rate" in text
    assert "native: not measured here (wasmtime cannot be imported" in text


def test_warm_tiers_fill_their_cache_and_cold_ones_use_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold run must not read or write a code cache (it would not be a first run), not
    even the user's default one; a warm one fills the bench's own directory; both run
    the same instructions."""
    monkeypatch.delenv("SPINWB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # where the default cache would be
    w = cpu.Workload("strings", 1, True)
    k1, _, _ = cpu.time_tier(w, 1, cpu.Tier("translated", True, None), tmp_path)
    assert not any(tmp_path.rglob("*")), "a cold run wrote a cache"
    k2, _, _ = cpu.time_tier(w, 1, cpu.Tier("translated warm", True, None, warm=True), tmp_path)
    assert k1 == k2 and any((tmp_path / "code").rglob("*")), "a warm run's cache is empty"
    res = cpu.bench(rounds=1, runs=1, qemu=False, workloads=(w,),
                    tiers=(cpu.Tier("translated", True, None), cpu.Tier("translated warm", True, None, warm=True)))  # fmt: skip
    text = "\n".join(cpu.report(res))
    assert "translated: whole runs, each in a fresh process with the on-disk code caches off" in text
    assert "translated warm: the same with the caches" in text


def test_bench_cpu_beside_qemu_checks_its_output() -> None:
    require("qemu-alpha")
    res = _small(qemu=True)
    assert res["qemu_startup_seconds"] > 0
    for r in res["workloads"]:
        q = r["qemu"]
        assert q["same_output"] is True
        assert int(q["args"][0]) > 1 and q["instructions_estimated"] >= cpu.QEMU_INSTRUCTIONS * 0.9
    assert "qemu-alpha" in "\n".join(cpu.report(res))


def test_geomean() -> None:
    assert cpu.geomean([2.0, 8.0]) == 4.0
    assert cpu.geomean([2.0, None]) is None and cpu.geomean([]) is None


def test_bench_lessons_times_a_named_lesson_and_help() -> None:
    heard: list[str] = []
    res = lessons.bench(["boot_tour"], 1, heard.append)
    (row,) = res["lessons"]
    assert row["name"] == "boot_tour" and row["status"] == 0 and row["seconds"] > 0
    assert heard == [f"  boot_tour: {row['seconds']:.3f} s"]
    assert res["help"]["status"] == 0 and res["help"]["seconds"] > 0
    text = "\n".join(lessons.report(res))
    assert "boot_tour" in text and "spinwb --help" in text and "0.25 s" in text


def test_bench_lessons_reports_a_failing_lesson(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lesson that fails is named with its exit status, not timed as if it passed."""
    monkeypatch.setattr(lessons, "_seconds", lambda argv: (0.5, 1 if "broken" in argv else 0, "Error: it broke"))
    monkeypatch.setattr("scenarios.engine.available", lambda: {"broken": tmp_path / "broken.py"})
    res = lessons.bench(["broken"], 3)
    (row,) = res["lessons"]
    assert row["status"] == 1 and row["runs_seconds"] == [0.5]
    assert "FAILED (exit 1): Error: it broke" in "\n".join(lessons.report(res))


def test_unknown_lesson_and_misplaced_names_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "lessons", "no_such_lesson"]) == 2
    assert (
        capsys.readouterr().err == "spinwb bench lessons: no lesson named no_such_lesson (see spinwb scenario list)\n"
    )
    assert main(["bench", "cpu", "boot_tour"]) == 2
    assert "lesson names are for bench lessons" in capsys.readouterr().err


def test_a_workload_that_fails_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setattr(cpu, "_program", lambda w, n, translate: _failing_program())
    assert main(["bench", "cpu", "--rounds", "1", "--runs", "1"]) == 1
    assert capsys.readouterr().err.startswith("spinwb bench cpu: bench: exit 139 SIGSEGV")


def _failing_program() -> UserProgram:
    image = parse_elf(assemble(ASM_START + "\tldq\t$1, 8($31)\n" + ASM_EXIT_WITH_R4, "fault.s"))
    return UserProgram(image, ["fault"], stdout=io.BytesIO())
