"""`spinwb bench web`: its figures have the paper's ordering (run with small counts)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from kernel.net import webworld
from workbench.bench import web


def test_the_unix_way_server_crosses_and_copies_on_every_request() -> None:
    f = web.cached("unix", 1024, 3)
    assert f.latency_us > 1000  # a connection, a request, 1 KiB back on a 10 Mb/s wire: over a millisecond
    assert f.server_us > 0
    assert f.crossings >= 10  # accept, read, open, lseek x2, read, write x2, close x2: each enters and leaves
    assert f.copies >= 4  # the request out to it, the file out of the buffer cache, headers and body back in


def test_the_extension_is_faster_with_fewer_crossings_and_copies() -> None:
    for size in web.SIZES:
        ext, unix = web.cached("extension", size, 3), web.cached("unix", size, 3)
        assert ext.latency_us < unix.latency_us, size
        assert ext.server_us < unix.server_us, size
        assert ext.crossings < unix.crossings and ext.crossings == 0, size
        assert ext.copies < unix.copies, size


def test_hybrid_beats_lru_for_everything_on_the_mix() -> None:
    hybrid, lru = web.mix("hybrid", 120, 0), web.mix("lru", 120, 0)
    assert hybrid.memory > lru.memory
    assert hybrid.mean_us < lru.mean_us
    assert hybrid.small_mean_us < lru.small_mean_us
    for m in (hybrid, lru):
        assert abs(m.memory + m.disk + m.nfs + m.misses - 1) < 1e-9 and m.misses == 0


def test_the_mix_is_seeded_and_has_the_papers_shape() -> None:
    files, small, large = web.mix_files(0)
    assert files == web.mix_files(0)[0]
    assert all(len(files[n]) <= web.SMALL_LIMIT for n in small)
    assert all(len(files[n]) > web.SMALL_LIMIT for n in large)
    seq = web.mix_sequence(small, large, 2000, 0)
    assert seq == web.mix_sequence(small, large, 2000, 0)
    share = sum(n in large for n in seq) / len(seq)
    assert 0.02 < share < 0.07
    assert seq.count(small[0]) > 5 * seq.count(small[-1])  # popular and unpopular small files


def test_json_output_parses_and_holds_the_figures() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert web.main(True, n=2, bars=False, mix_n=40) == 0
    res = json.loads(out.getvalue())
    assert res["paper_ms"] == {"extension": 5.0, "unix": 8.0}
    unix = res["cached"]["unix"]
    assert set(unix) == {"1024", "8192"} and unix["1024"]["requests"] == 2
    assert set(res["cached"]) == {"extension", "unix"}
    assert set(res["mix"]["policies"]) == {"hybrid", "lru", "none"}
    assert res["paper_ratio"] == 1.6 and set(res["ratios"]) == {"1024", "8192"}
    assert res["ratios"]["1024"]["server_cpu"] > res["ratios"]["1024"]["latency"] > 1


def test_the_text_report_names_the_mechanism_and_labels_modeled_figures() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert web.main(False, n=1, bars=True, mix_n=0) == 0
    text = out.getvalue()
    assert "modeled" in text and "host µs" in text and "no crossings" in text
    assert "paper, SPIN extension" in text and "Cache policy" not in text  # mix_n=0 leaves the mix out
    # the small latency win is explained: the modeled ratio beside the paper's, and why
    assert "against the paper's 1.60x" in text and "server CPU" in text
    assert "10 Mb/s wire" in text and "dominates client" in text


def test_the_extensions_defaults_are_the_web_worlds_settings() -> None:
    """webworld passes PORT, SMALL_LIMIT, CACHE_BYTES and NFS_SERVER at load; the
    extension's own top-level values are documentation and must say the same."""
    import ast

    tree = ast.parse(webworld.EXTENSION.read_text())
    top = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
           for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}  # fmt: skip
    for name in ("PORT", "SMALL_LIMIT", "CACHE_BYTES", "NFS_SERVER"):
        assert top[name] == getattr(webworld, name), name
    assert top["POLICY"] == webworld.POLICIES[0]
    w = webworld.WebWorld({"a.txt": b"a"})
    try:
        ns = w.web.system.extensions["web_server"].namespace
        assert (ns["PORT"], ns["SMALL_LIMIT"], ns["CACHE_BYTES"], ns["NFS_SERVER"]) == (
            webworld.PORT, webworld.SMALL_LIMIT, webworld.CACHE_BYTES, webworld.NFS_SERVER)  # fmt: skip
    finally:
        w.close()


def test_ops_over_the_web_bench_bound_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli.main import main

    assert main(["bench", "web", "--ops", "61"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "spinwb bench: argument --ops: 61 is out of range for web: from 1 to 60 requests per cached-file figure "
        "(see spinwb bench --help)"
    ]
