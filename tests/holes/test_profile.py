"""spinwb profile (kernel/profile.py, workbench/cli/profile.py): strace's
lines from the kernel's Syscall records, the summary, the sequences ranked
by count x crossings saved, and the macro calls they suggest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel import profile as P
from kernel.sys.trace import Syscall
from tests.holes.helpers import BIN, FILES, PATHS, disk, start
from workbench.cli.main import main


def profile_of(program: str, args: list[str], macro: bool = False) -> P.Profile:
    k = start(program, args, macro)
    k.run(50_000_000)
    return P.Profile(P.calls(k.trace.of(Syscall)), k.sal.now, k.sal.crossings)


def test_open_read_close_is_the_top_candidate_and_its_rotations_are_not_candidates() -> None:
    prof = profile_of("smallfiles", ["5", *PATHS])
    uses = 5 * len(PATHS)
    top = prof.seqs[0]
    assert top.calls == ("open", "read", "close") and top.count == uses and top.self_contained
    assert top.count * top.crossings_saved == 4 * uses
    assert top.micros_saved == pytest.approx(uses * 2 * P.ENTRY_CYCLES / 133)
    rotations = [s for s in prof.seqs if s.calls in (("read", "close", "open"), ("close", "open", "read"))]
    assert rotations and not any(s.self_contained for s in rotations)
    cands = P.candidates(prof.seqs)
    assert cands[0].name == "open_read_close" and "0x7600" in cands[0].known
    assert not any(c.calls != top.calls and set(c.calls) >= {"open", "read", "close"} for c in cands)


def test_strace_lines_decode_paths_flags_and_errors() -> None:
    prof = profile_of("readfile", [PATHS[0], "/missing"])
    lines = [P.strace_line(c) for c in prof.calls]
    assert lines[0].startswith(f'open("{PATHS[0]}", O_RDONLY) = 3 ')
    assert any(line.startswith("read(3, 0x") and f", 4096) = {len(FILES['f1.txt'])} " in line for line in lines)
    assert any(line.startswith('open("/missing", O_RDONLY) = -1 ENOENT (errno 2)') for line in lines)
    assert all(line.rstrip().endswith(("µs]", "entries]")) for line in lines)
    blocked = [c for c in prof.calls if c.entries > 1]
    assert blocked and all(c.name == "read" for c in blocked)  # the disk read restarted the call
    assert prof.rows[0].name == "read" and sum(r.share for r in prof.rows) == pytest.approx(1.0)


def test_a_sequence_through_a_user_buffer_counts_its_copies() -> None:
    def call(name: str, *args: int, result: int = 0) -> P.Call:
        return P.Call(1, 1, 0, name, args, result, 0, 10, 1, "")

    cs = [call("open", 0, 0, result=3), call("read", 3, 0x5000, 8192, result=8192), call("send", 4, 0x5000, 8192),
          call("close", 3)] * 3  # fmt: skip
    seqs = {s.calls: s for s in P.sequences(cs)}
    assert seqs[("read", "send")].copies == 1 and seqs[("open", "read", "send", "close")].self_contained
    assert "file_to_socket" in seqs[("read", "send")].known


def test_profiling_does_not_change_the_run() -> None:
    hashes = []
    for watched in (False, True):
        k = start("smallfiles", ["2", *PATHS])
        if watched:
            from workbench.cli.profile import collect

            kept, _ = collect(k)
        k.run(50_000_000)
        hashes.append(k.state_hash())
    assert hashes[0] == hashes[1] and kept


@pytest.fixture
def image(tmp_path: Path) -> str:
    p = tmp_path / "disk.img"
    p.write_bytes(disk())
    return str(p)


def test_the_cli_reports_and_names_the_candidate(image: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--disk", image, str(BIN / "smallfiles.elf"), "3", *PATHS]) == 0
    out, err = capsys.readouterr()
    assert 'open("/f1.txt", O_RDONLY) = 3' in out and "% time" in out
    assert "open → read → close" in out and "open_read_close(...) = open → read → close: 12 uses, 48 crossings" in out
    assert "files read" in err and "files read" not in out  # the program's output goes to stderr


def test_the_cli_json_and_no_trace(image: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--json", "--top", "2", "--disk", image, str(BIN / "smallfiles.elf"), "2", *PATHS]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["sequences"]) == 2 and d["candidates"][0]["name"] == "open_read_close"
    assert d["candidates"][0]["crossings_saved"] == 4 * 2 * len(PATHS) and d["status"] == 0
    assert d["calls"][0]["name"] == "open" and d["calls"][0]["text"] == PATHS[0]
    assert main(["profile", "--no-trace", "--disk", image, str(BIN / "smallfiles.elf"), "1", *PATHS]) == 0
    assert "O_RDONLY" not in capsys.readouterr().out


def test_the_macro_variant_profiled_with_the_extension(image: str, capsys: pytest.CaptureFixture[str]) -> None:
    ext = str(Path(__file__).resolve().parents[2] / "extensions" / "macro_calls.py")
    assert main(["profile", "--ext", ext, "--disk", image, str(BIN / "smallfiles_macro.elf"), "2", *PATHS]) == 0
    out = capsys.readouterr().out
    assert f'open_read_close("{PATHS[0]}", 0x' in out and "open(" not in out


@pytest.mark.parametrize(
    ("args", "says", "status"),
    [
        (["/no/such.elf"], "spinwb profile: /no/such.elf: no such file", 2),
        ([__file__], "not an ELF", 2),
        (["--disk", "/no/disk.img", str(BIN / "smallfiles.elf")], "cannot read disk image", 2),
        ([str(BIN / "fault-ev4.elf")], "SIGSEGV: segmentation fault", 139),
        ([], "name the program to profile", 2),
    ],
)
def test_bad_input_is_one_line(args: list[str], says: str, status: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--no-trace", *args]) == status
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("spinwb profile:")]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in err


def test_sequences_are_per_process_never_across_two() -> None:
    def call(pid: int, name: str, result: int = 0, *args: int) -> P.Call:
        return P.Call(pid, pid, 0, name, args, result, 0, 10, 1, "")

    cs = []
    for _ in range(3):  # two processes interleaved: 1 does open-close, 2 does write-write
        cs += [call(1, "open", 3), call(2, "write", 5, 1), call(1, "close", 0, 3), call(2, "write", 5, 1)]
    seqs = {s.calls: s for s in P.sequences(cs)}
    assert seqs[("open", "close")].count == 3 and seqs[("open", "close")].pids == (1,)
    assert ("open", "write") not in seqs and ("write", "close") not in seqs
    assert seqs[("write", "write")].count == 3  # six writes, counted without overlap


def test_the_file_calls_show_their_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kernel.fs.format import build_image

    image = tmp_path / "d.img"
    image.write_bytes(build_image({}, spare_blocks=256))
    assert main(["profile", "--disk", str(image), "--top", "1", str(BIN / "fs_unlink.elf")]) == 0
    out = capsys.readouterr().out
    assert 'unlink("temp.txt") = 0' in out and 'unlink("temp.txt") = -1 ENOENT (errno 2)' in out
    assert 'stat("temp.txt", 0x' in out and 'mkdir("dir", 0755) = 0' in out
