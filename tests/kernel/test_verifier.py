"""The extension verifier, linker and loader: a corpus of malicious or broken
extensions each rejected by the rule and line its .expect file names, a
corpus of legitimate ones accepted and run, and the loader's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.sys.errors import AuthError, LinkError, SpinError, Unauthorized
from kernel.sys.interface import Interface
from kernel.sys.linker import ExtensionRejected
from kernel.sys.system import ExtensionSystem
from kernel.sys.trace import Abort, Denied, Link
from kernel.sys.verifier import check
from tests.conftest import ROOT
from workbench.cli.main import main

CORPUS = ROOT / "tests" / "extensions"
BAD = sorted(CORPUS.glob("bad/*.py"))
GOOD = sorted(CORPUS.glob("good/*.py"))
EXAMPLES = sorted(p for p in (ROOT / "extensions").glob("*.py") if p.name != "__init__.py")


def test_the_corpus_is_big_enough() -> None:
    assert len(BAD) >= 30 and len(GOOD) >= 10


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_extensions_are_rejected_by_the_named_rule_and_line(path: Path) -> None:
    rule, line = path.with_suffix(".expect").read_text().split()
    result = check(path.read_text(), str(path))
    assert isinstance(result, list), f"{path.name} was accepted"
    assert (rule, int(line)) in {(d.rule, d.line) for d in result}, [str(d) for d in result]
    d = next(d for d in result if d.rule == rule)
    assert str(d).startswith(f"{path}:{line}:{d.col}: {rule}: ") and " — " in str(d)  # FILE:LINE:COL: rule: what — fix


def system() -> tuple[ExtensionSystem, Interface]:
    s = ExtensionSystem()
    udp = Interface("UDP")
    s.dispatcher.define(udp, "PacketArrived", lambda pkt: None, authority=udp)
    s.export(udp)
    return s, udp


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_extensions_are_accepted_and_run(path: Path) -> None:
    assert not isinstance(check(path.read_text(), str(path)), list)
    s, udp = system()
    ext = s.load_file(path)
    for port in (7, 53, 80):
        udp.PacketArrived(port)
    assert not s.dispatcher.reports, s.dispatcher.reports
    assert s.trace.of(Link)[-1].extension == path.stem
    s.unload(ext)
    assert udp.PacketArrived is s.dispatcher.event("UDP.PacketArrived").original.handler  # back to the plain call


def test_loaded_guards_and_closures_behave() -> None:
    s, udp = system()
    ext = s.load_file(CORPUS / "good" / "closure.py")
    for port in (7, 8, 7):
        udp.PacketArrived(port)
    assert ext.namespace["LOG"] == [7, 7]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_pass_ext_check(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ext", "check", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: accepted (imports ")


def test_ext_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = CORPUS / "good" / "guarded.py", CORPUS / "bad" / "getattr_builtin.py"
    assert main(["ext", "check", str(good)]) == 0
    assert f"{good}: accepted (imports Dispatcher, UDP; defines init())" in capsys.readouterr().out
    assert main(["ext", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:4:9: forbidden-builtin: `getattr` is not available to extensions" in out
    assert out.strip().endswith("rejected (1 problem)")
    assert main(["ext", "check", str(CORPUS / "bad" / "syntax_error.py")]) == 2
    assert main(["ext", "check", str(tmp_path / "missing.py")]) == 2
    (tmp_path / "bin.py").write_bytes(b"\xff\xfe\x00")
    assert main(["ext", "check", str(tmp_path / "bin.py")]) == 2
    (tmp_path / "typo.py").write_text("from spin import Dispatcher, Konsole\n")
    assert main(["ext", "check", str(tmp_path / "typo.py")]) == 1
    assert "typo.py:1:1: unknown-interface: `Konsole` is not an interface the kernel exports" in capsys.readouterr().out


def test_rejections_name_the_extension_and_leave_nothing_installed() -> None:
    s, udp = system()
    with pytest.raises(ExtensionRejected, match=r"extension evil rejected by the verifier \(1 problem\)"):
        s.load("from spin import Console\ndef init():\n    return eval('1')\n", "evil.py")
    with pytest.raises(LinkError, match="cannot link extension lost: no domain it may use \\(SpinPublic\\) exports "
                                        "`Translation` \\(line 1\\)"):  # fmt: skip
        s.load("from spin import Translation, Console\n", "lost.py")
    with pytest.raises(Unauthorized, match="user may not import /svc/domains/SpinTrusted"):
        s.load("from spin import Console\n", "sneaky.py", domains=("SpinPublic", "SpinTrusted"))
    src = ("from spin import Dispatcher, UDP\n\ndef h(p):\n    pass\n\ndef init():\n"
           "    Dispatcher.InstallHandler(UDP.PacketArrived, h)\n    while True:\n        pass\n")  # fmt: skip
    with pytest.raises(LinkError, match="init\\(\\) ran out of fuel"):
        s.load(src, "stuck.py")
    assert s.dispatcher.get_handlers(s.dispatcher.event("UDP.PacketArrived")) is None  # its handler was removed
    assert [r.reason.split(":")[0] for r in s.trace.of(Denied)][:1] == [
        "extension evil rejected by the verifier (1 problem)"
    ]
    udp.PacketArrived(1)  # the kernel carries on


def test_a_runaway_extension_handler_is_aborted_and_reported() -> None:
    s, udp = system()
    src = ("from spin import Dispatcher, UDP\n\ndef spin(p):\n    while True:\n        pass\n\n"
           "def init():\n    Dispatcher.InstallHandler(UDP.PacketArrived, spin, bound=1000)\n")  # fmt: skip
    s.load(src, "runaway.py")
    udp.PacketArrived(1)  # returns
    (abort,) = s.trace.of(Abort)
    assert abort.owner == "runaway" and abort.fuel == 1000
    assert s.dispatcher.reports[0].startswith("runaway: handler spin on UDP.PacketArrived exceeded its bound of 1000")


def test_an_authorizer_refusal_is_reported_with_extension_and_event() -> None:
    s, udp = system()
    ev = s.dispatcher.event("UDP.PacketArrived")
    s.dispatcher.install_authorizer(ev, lambda b, key: key == "let me", udp)
    with pytest.raises(LinkError, match="nosy: init\\(\\) failed: nosy: cannot install a handler on "
                                        "UDP.PacketArrived: its authorizer refused"):  # fmt: skip
        s.load("from spin import Dispatcher, UDP\ndef h(p):\n    pass\ndef init():\n"
               "    Dispatcher.InstallHandler(UDP.PacketArrived, h)\n", "nosy.py")  # fmt: skip
    ext = s.load("from spin import Dispatcher, UDP\ndef h(p):\n    pass\ndef init():\n"
                 "    Dispatcher.InstallHandler(UDP.PacketArrived, h, key='let me')\n", "polite.py")  # fmt: skip
    assert len(ext.bindings) == 1
    assert isinstance(AuthError("x"), SpinError)


def test_an_extension_cannot_open_its_binding_handle() -> None:
    s, _ = system()
    ext = s.load("from spin import Dispatcher, UDP\nH = None\ndef h(p):\n    pass\ndef init():\n    global H\n"
                 "    H = Dispatcher.InstallHandler(UDP.PacketArrived, h)\n", "holder.py")  # fmt: skip
    handle = ext.namespace["H"]
    assert repr(handle) == "<binding handle>" and not [a for a in dir(handle) if not a.startswith("_")]
    with pytest.raises(SpinError, match="expected a binding handle \\(Dispatcher.Uninstall\\), got int"):
        s.load("from spin import Dispatcher\ndef init():\n    Dispatcher.Uninstall(12345)\n", "forger.py")
