"""The native tier's choice of compiler (wasm._the_engine): Winch where it takes the tier's
code, Cranelift when asked or where Winch refuses."""

from __future__ import annotations

from typing import Any

import pytest

from machine.alpha.native import wasm
from tests.conftest import require_module


@pytest.fixture(autouse=True)
def _wasmtime() -> None:
    require_module("wasmtime")


def test_winch_by_default_cranelift_when_asked_or_when_winch_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    import wasmtime

    built = wasm._build_engine

    def refuse_winch(wt: Any, compiler: str) -> Any:
        if compiler == "winch":
            raise wasmtime.WasmtimeError("no winch here")
        return built(wt, compiler)

    try:
        built(wasmtime, "winch")
        default = "winch"
    except wasmtime.WasmtimeError:  # a platform whose Winch cannot take the tier's code
        default = "cranelift"
    monkeypatch.setattr(wasm, "ENGINE", wasm.ENGINE)  # restored after the test, with _engine
    cases = ((None, built, default), ("cranelift", built, "cranelift"), (None, refuse_winch, "cranelift"))
    for env, build, want in cases:
        monkeypatch.setattr(wasm, "_engine", None)
        monkeypatch.setattr(wasm, "_build_engine", build)
        if env is None:
            monkeypatch.delenv("SPINWB_NATIVE_COMPILER", raising=False)
        else:
            monkeypatch.setenv("SPINWB_NATIVE_COMPILER", env)
        wasm._the_engine()
        assert wasm.ENGINE.split()[0] == want
