"""What a newcomer typing a lesson wrong is told (issue 19): every mistake a
message saying what was wrong and where (FILE:LINE), never a traceback, and
the rest of the lesson still runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scenarios import engine

HEAD = "from scenarios.engine import Lesson\n\nlesson = Lesson('t', 'A test lesson')\n"


def write(tmp_path: Path, body: str, name: str = "t.py") -> Path:
    f = tmp_path / name
    f.write_text(HEAD + body)
    return f


def line_of(f: Path, text: str) -> int:
    return next(i for i, line in enumerate(f.read_text().splitlines(), 1) if text in line)


def step_errors(tmp_path: Path, body: str) -> tuple[Path, list[engine.StepResult]]:
    f = write(tmp_path, body)
    runner = engine.Runner(engine.load(str(f)))
    return f, runner.run_all()


def one_step(action: str, pane: str = "CPU") -> str:
    lines = "\n".join("    " + a for a in action.strip().splitlines())
    return f"\n@lesson.step('s', pane={pane!r})\ndef s(run):\n{lines}\n"


# --- declaring a lesson ------------------------------------------------------------------


def test_a_misspelled_pane_names_the_line_and_the_pane_meant(tmp_path: Path) -> None:
    f = write(tmp_path, "\n@lesson.step('one', pane='Consol')\ndef one(run):\n    pass\n")
    with pytest.raises(engine.ScenarioError) as e:
        engine.load(str(f))
    assert e.value.where.endswith(f"t.py:{line_of(f, 'Consol')}")
    assert "no pane 'Consol' (did you mean Console?)" in e.value.message


@pytest.mark.parametrize("limit", ["-5", "0", "float('inf')", "float('nan')", "'30'", "True"])
def test_a_step_limit_that_is_not_a_positive_number_of_seconds_is_refused_at_its_line(
    tmp_path: Path, limit: str
) -> None:
    f = write(tmp_path, f"\n@lesson.step('one', pane='CPU', host_limit_s={limit})\ndef one(run):\n    pass\n")
    with pytest.raises(engine.ScenarioError) as e:
        engine.load(str(f))
    assert e.value.where.endswith(f"t.py:{line_of(f, 'host_limit_s')}")
    assert "host_limit_s must be a positive number of seconds" in e.value.message


def test_a_pane_or_watch_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    f = write(tmp_path, "\n@lesson.step('one', pane=7)\ndef one(run):\n    pass\n")
    with pytest.raises(engine.ScenarioError, match="pane must be a str, not int 7"):
        engine.load(str(f))
    f = write(tmp_path, "\n@lesson.step('one', pane='CPU', watch='yes')\ndef one(run):\n    pass\n")
    with pytest.raises(engine.ScenarioError, match="watch must be True or False"):
        engine.load(str(f))


# --- finding a lesson ---------------------------------------------------------------------


def test_a_misspelled_lesson_name_suggests_the_lesson_meant() -> None:
    with pytest.raises(engine.ScenarioError, match=r"no such scenario \(did you mean boot_tour\?\)"):
        engine.load("boot_tur")


def test_a_path_that_is_missing_not_python_or_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(engine.ScenarioError, match="no such file"):
        engine.load(str(tmp_path / "missing.py"))
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(engine.ScenarioError, match=r"not a scenario file \(a lesson is a \.py file\)"):
        engine.load(str(tmp_path / "notes.txt"))
    with pytest.raises(engine.ScenarioError, match="a directory, not a scenario file"):
        engine.load(str(tmp_path))


def test_a_binary_lesson_file_names_its_path_once(tmp_path: Path) -> None:
    f = tmp_path / "bin.py"
    f.write_bytes(b"\x00\x01binary\xff")
    with pytest.raises(engine.ScenarioError) as e:
        engine.load(str(f))
    text = str(e.value)
    assert text.count("bin.py") == 1 and "not UTF-8 text" in text, text


# --- a step's action ------------------------------------------------------------------------


def test_booting_a_program_that_does_not_exist_names_the_line_and_the_program_meant(tmp_path: Path) -> None:
    f, (res,) = step_errors(tmp_path, one_step("run.boot(init='uper-ev4')"))
    assert res.error.startswith(f"{f}:{line_of(f, 'uper-ev4')}: ElfError: no program 'uper-ev4'"), res.error
    assert "did you mean upper-ev4" in res.error


@pytest.mark.parametrize(
    ("call", "says"),
    [
        ("run.boot(init='upper-ev4', stdin=5)", "run.boot's stdin is bytes or a str"),
        ("run.boot(init='upper-ev4', argv='upper')", "run.boot's argv is a list of str"),
        ("run.boot(init=5)", "a program is named by a str"),
        ("run.network(2, programs={2: ('udp_echo', [])})", "keyed by host index, 0 (10.0.0.1) to 1 (10.0.0.2)"),
        ("run.network(0)", "a number of hosts from 1 to 64"),
        ("run.network(2, programs={0: 'udp_echo'})", "programs[0] is (program, [args...])"),
        ("run.run_until_exit(run.network(2))", "net.hosts[0]"),
        ("run.run_until_exit(None)", "takes a machine (the Kernel run.boot returns)"),
        ("run.run_until_exit(run.boot(), max_instructions=0)", "max_instructions is a positive whole number"),
        ("run.load(run.boot(), 'vm_ap')", "no extension 'vm_ap' in extensions/ (did you mean vm_app?)"),
        ("run.type(run.boot(), 5)", "run.type's text is bytes or a str"),
        ("run.check('it worked', 'yes')", "ok is str 'yes', which is true unless empty"),
        ("run.check('it worked', lambda: False)", "ok is a function, which is always true"),
        ("run.check(5, True)", "text is what is checked, a str, not int 5"),
        ("run.ask('How many?', None)", "the answer is None"),
        ("run.exhibit('t', ['a'], [[1, 2]])", "row 0 is [1, 2]; each row is a list of as many cells as columns, 1"),
        ("run.exhibit('t', 'ab', [])", "columns is a list of headings, not str 'ab'"),
        ("run.boot()\nrun.show_event('Syscall.write')", "the machine has no event 'Syscall.write'"),
        ("run.boot()\nrun.show_event('Trap.SystemCal')", "(did you mean Trap.SystemCall?)"),
        ("run.show_event('Trap.SystemCall')", "no machine yet; call it after run.boot"),
        ("run.boot()\nrun.show_event(7)", "run.show_event takes an event's name"),
    ],
)
def test_a_wrong_argument_is_the_step_s_error_at_the_lesson_s_line(tmp_path: Path, call: str, says: str) -> None:
    body = (
        one_step(call)
        + "\n\n@lesson.step('after', pane='CPU')\ndef after(run):\n    run.check('the next step runs', True)\n"
    )
    f, (res, after) = step_errors(tmp_path, body)
    last = call.splitlines()[-1]
    assert res.error.startswith(f"{f}:{line_of(f, last)}: "), res.error
    assert says in res.error, res.error
    assert after.passed and after.checks[0].text == "the next step runs"  # the lesson goes on


def test_the_right_arguments_still_work(tmp_path: Path) -> None:
    body = one_step("""
k = run.boot(init="upper-ev4", argv=("upper",), stdin=bytearray(b"one\\n"))
run.check("exited", run.run_until_exit(k) == "all processes exited", 42)
run.check("a list is a truth value", [1])
run.check("None is false", None)
run.show_event("Trap.SystemCall")
run.exhibit("t", ("a", "b"), [(1, 2)])
run.ask("a function's answer", lambda: 3)
net = run.network(2, programs={1: ("udp_echo", ["7"])})
run.show_event("Trap.SystemCall")
""")
    _, (res,) = step_errors(tmp_path, body)
    assert not res.error, res.error
    assert [(c.text, c.ok, c.detail) for c in res.checks] == [
        ("exited", True, "42"),  # a detail that is not a str is shown as text
        ("a list is a truth value", True, ""),
        ("None is false", False, ""),
    ]
    assert res.questions[0].answer == "3" and res.exhibits[0].rows == [["1", "2"]]


def test_a_check_outside_a_step_says_where_it_belongs() -> None:
    run = engine.Run(engine.Lesson("t", "T"), 0)
    with pytest.raises(RuntimeError, match="inside a step's action"):
        run.check("x", True)


# --- the command line ------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "scenario", "run", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_check_detail_that_is_not_text_prints_without_a_traceback(tmp_path: Path) -> None:
    f = write(tmp_path, one_step("run.check('counted', True, 42)\nrun.exhibit('t', ['n'], [[7]])"))
    p = cli(str(f), "--headless", "--no-isolate")
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "[ok  ] counted -- 42" in p.stdout and "    7" in p.stdout


@pytest.mark.parametrize("seed", ["x", "1.5", "seven"])
def test_a_seed_that_is_not_a_whole_number_is_refused_plainly(seed: str) -> None:
    p = cli("cow_fork", "--headless", "--seed", seed)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert f"argument --seed: '{seed}' is not a whole number" in p.stderr, p.stderr
