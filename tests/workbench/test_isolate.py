"""Classroom isolation (issue 15): each mechanism of workbench/cli/isolate.py
alone stops what it is for, and grading students' scenario files contains
each file's attack -- a write outside, the network, 8 GiB, a spin -- with a
clear message while the other files are graded on.

Under CI=true a mechanism this machine does not offer is a failure: the
promise in the README is that grading and `spinwb serve` have all of them.
Outside CI such a test skips with the warning the module printed."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from workbench.cli import isolate
from workbench.cli.main import main

QUICK = isolate.Limits(cpu_seconds=2, wall_seconds=120)  # the wall clock only bounds a broken run


def attempt(code: str, only: tuple[str, ...], tmp_path: Path, limits: isolate.Limits = QUICK) -> isolate.Outcome:
    """Run Python code in an isolated child with only some mechanisms; each
    line of its stdout says what one attempt got."""
    script = tmp_path / "attempt.py"
    script.write_text(
        "import errno, os, socket, sys, threading\n"
        "def t(name, fn):\n"
        "    try:\n"
        "        fn()\n"
        "        print(name, 'done')\n"
        "    except OSError as e:\n"
        "        print(name, errno.errorcode.get(e.errno, e.errno))\n"
        "    except MemoryError:\n"
        "        print(name, 'MemoryError')\n" + textwrap.dedent(code)
    )
    out = isolate.run([sys.executable, str(script)], limits, only=only)
    for name in only:
        if name not in out.confinement.applied:
            msg = f"{name} is not available here: {out.confinement.warnings}"
            if IN_CI:
                pytest.fail(f"isolation mechanism missing under CI: {msg}")
            pytest.skip(msg)
    return out


def said(out: isolate.Outcome) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.stdout.decode().splitlines())


def test_landlock_confines_writes_to_the_scratch_directory_and_refuses_tcp(tmp_path: Path) -> None:
    mine = tmp_path / "instructor.txt"
    mine.write_text("grades\n")
    out = attempt(f"""
        t('write', lambda: open({str(mine)!r}, 'w').write('A'))
        t('append', lambda: open({str(mine)!r}, 'a').write('A'))
        t('unlink', lambda: os.unlink({str(mine)!r}))
        t('create', lambda: open({str(tmp_path / "new.txt")!r}, 'w'))
        t('rename', lambda: os.rename({str(mine)!r}, 'stolen'))
        t('scratch', lambda: open('mine.txt', 'w').write('ok'))
        t('devnull', lambda: open('/dev/null', 'w').write('ok'))
        t('read', lambda: open({str(mine)!r}).read())
        t('tcp', lambda: socket.create_connection(('192.0.2.1', 9), timeout=5))
    """, ("landlock",), tmp_path)  # fmt: skip
    got = said(out)
    assert {k: got[k] for k in ("write", "append", "unlink", "create", "rename")} == dict.fromkeys(
        ("write", "append", "unlink", "create", "rename"), "EACCES"
    )
    assert got["scratch"] == got["devnull"] == got["read"] == "done", "its own directory, /dev/null and reads are fine"
    assert mine.read_text() == "grades\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attempt.py", "instructor.txt"]
    if isolate.landlock_abi() >= 4:
        assert got["tcp"] == "EACCES", "ABI 4: no TCP connect"


def test_a_network_namespace_has_no_route_out(tmp_path: Path) -> None:
    out = attempt("""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t('udp', lambda: s.sendto(b'x', ('192.0.2.1', 9)))
        t('tcp', lambda: socket.create_connection(('192.0.2.1', 9), timeout=5))
    """, ("namespaces",), tmp_path)  # fmt: skip
    assert said(out) == {"udp": "ENETUNREACH", "tcp": "ENETUNREACH"}


def test_seccomp_refuses_sockets_new_processes_and_signals_to_others(tmp_path: Path) -> None:
    out = attempt("""
        t('socket', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        t('unix', lambda: socket.socket(socket.AF_UNIX).connect('/run/any.sock'))
        t('fork', os.fork)
        t('spawn', lambda: __import__('subprocess').run(['true']))
        t('signal', lambda: os.kill(os.getppid(), 0))
        t('self', lambda: os.kill(os.getpid(), 0))
        t('thread', lambda: [th.start() or th.join() for th in [threading.Thread(target=lambda: None)]])
    """, ("seccomp",), tmp_path)  # fmt: skip
    assert said(out) == {"socket": "EACCES", "unix": "EACCES", "fork": "EAGAIN", "spawn": "EAGAIN",
                         "signal": "EPERM", "self": "done", "thread": "done"}  # fmt: skip


def test_resource_limits_stop_a_spin_a_huge_allocation_and_a_huge_file(tmp_path: Path) -> None:
    out = attempt("""
        t('8GiB', lambda: bytearray(8 << 30))
        t('file', lambda: open('big', 'wb').write(bytes(65 << 20)))
        sys.stdout.flush()
        while True:
            pass
    """, ("rlimits",), tmp_path, isolate.Limits(cpu_seconds=2, memory_bytes=1024 * isolate.MiB,
                                                file_bytes=64 * isolate.MiB, wall_seconds=120))  # fmt: skip
    assert said(out) == {"8GiB": "MemoryError", "file": "EFBIG"}
    assert out.killed == "CPU time limit (2 s) reached"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has capabilities to drop")
def test_dropped_capabilities_leave_root_without_privilege(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("x")
    out = attempt(f"""
        t('chown', lambda: os.chown({str(victim)!r}, 12345, -1))
        t('sethostname', lambda: __import__('socket').sethostname('pwned'))
    """, ("capabilities",), tmp_path)  # fmt: skip
    assert said(out) == {"chown": "EPERM", "sethostname": "EPERM"}
    assert victim.stat().st_uid == 0


def test_this_machine_gives_grading_every_mechanism() -> None:
    conf = isolate.probe()
    missing = [m for m in isolate.MECHANISMS if m not in conf.applied]
    if missing:
        if IN_CI:
            pytest.fail(f"isolation mechanisms missing under CI: {conf.warnings}")
        pytest.skip(f"not offered here: {conf.warnings}")
    assert conf.warnings == []
    assert "NOT" not in conf.brief()


STUDENTS = {
    "writer.py": """
        @lesson.step("change the grades")
        def grades(run):
            open(GRADES, "w").write("all A")
        @lesson.step("and go on")
        def after(run):
            run.check("the next step still runs", True)
    """,
    "caller.py": """
        import socket
        @lesson.step("phone home")
        def home(run):
            socket.create_connection(("192.0.2.1", 9), timeout=5)
    """,
    "hog.py": """
        @lesson.step("take 8 GiB")
        def hog(run):
            run.check("got 8 GiB", len(bytearray(8 << 30)) == 8 << 30)
    """,
    "spinner.py": """
        @lesson.step("boot")
        def boot(run):
            run.check("a machine boots", run.boot() is not None)
        @lesson.step("spin")
        def spin(run):
            while True:
                pass
    """,
}


def test_grading_contains_each_students_attack_and_grades_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grades = tmp_path / "grades.txt"
    grades.write_text("alice: B\n")
    files = []
    for name, body in STUDENTS.items():
        f = tmp_path / name
        f.write_text(f"from scenarios.engine import Lesson\nGRADES = {str(grades)!r}\n"
                     f"lesson = Lesson({f.stem!r}, 'A student')\n" + textwrap.dedent(body))  # fmt: skip
        files.append(str(f))
    good = str(Path(__file__).resolve().parents[2] / "scenarios" / "lessons" / "cow_fork.py")
    code = main(["scenario", "run", *files, good, "--headless", "--json", "--cpu-limit", "3"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 1 and doc["passed"] is False
    runs = {d["scenario"]: d for d in doc["scenarios"]}
    assert list(runs) == ["writer", "caller", "hog", "spinner", "cow_fork"], "every file was graded, in order"

    def error(name: str, step: int = 0) -> str:
        return str(runs[name]["steps"][step]["error"])

    assert "PermissionError: [Errno 13] Permission denied" in error("writer") and str(grades) in error("writer")
    assert runs["writer"]["steps"][1]["passed"], "the file's next step ran"
    assert "PermissionError" in error("caller") or "Network is unreachable" in error("caller")
    assert "MemoryError" in error("hog") and "2048 MiB of address space" in error("hog")
    assert runs["spinner"]["steps"][0]["passed"]
    assert error("spinner", 1).endswith("the isolated run was stopped: CPU time limit (3 s) reached")
    assert runs["cow_fork"]["passed"], "a good lesson passes beside them"
    for d in runs.values():
        assert set(d["isolation"]["applied"]) == set(isolate.MECHANISMS) or not IN_CI, d["isolation"]["warnings"]
    assert grades.read_text() == "alice: B\n", "the instructor's file is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*STUDENTS, "grades.txt"])
    assert "Traceback" not in captured.err


def test_files_are_isolated_by_default_and_the_text_report_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "one.py"
    f.write_text("from scenarios.engine import Lesson\nlesson = Lesson('one', 'One')\n"
                 "@lesson.step('s')\ndef s(run):\n    run.check('fine', True)\n")  # fmt: skip
    assert main(["scenario", "run", str(f), "--headless"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scenario one (seed 0): One\n  isolated: 60 s CPU, 210 s wall-clock, 2048 MiB address space")
    assert "[ok  ] fine" in out and out.endswith("result: 1 of 1 check passed\n")
    assert main(["scenario", "run", str(f), "--headless", "--no-isolate"]) == 0
    assert "isolated" not in capsys.readouterr().out


def test_a_missing_mechanism_is_one_warning_line_and_the_report_says_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine without Landlock: grading says so once, however many files,
    and no report claims the writes were confined."""
    real = isolate.run
    warning = "spinwb: isolation: landlock not in force: the kernel offers no Landlock"

    def without_landlock(cmd: list[str], limits: isolate.Limits, **kw: object) -> isolate.Outcome:
        out = real(cmd, limits, only=("rlimits", "namespaces", "capabilities", "seccomp"))
        out.confinement.warnings.append(warning)
        return out

    monkeypatch.setattr(isolate, "run", without_landlock)
    f = tmp_path / "one.py"
    f.write_text("from scenarios.engine import Lesson\nlesson = Lesson('one', 'One')\n"
                 "@lesson.step('s')\ndef s(run):\n    run.check('fine', True)\n")  # fmt: skip
    assert main(["scenario", "run", str(f), str(f), "--headless"]) == 0
    got = capsys.readouterr()
    assert got.err.count(warning) == 1
    assert got.out.count("writes NOT confined; no network (namespaces, seccomp); no new processes") == 2
    assert isolate.Confinement().brief() == (
        "no resource limits; writes NOT confined; network NOT confined; new processes NOT refused"
    )
