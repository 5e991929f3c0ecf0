"""`spinwb ext check FILE.py`: run the extension verifier alone.

Prints each diagnostic as ``FILE:LINE:COL: rule: what -- how to fix`` and
exits 0 when the file is accepted, 1 when it is rejected, 2 when it cannot be
read or is not Python (one line on stderr naming the file). Imports are checked against the interfaces the kernel
exports (SpinPublic; SpinTrusted with ``--trusted``), so a misspelt interface
is caught here rather than at load time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kernel.sys.system import SPIN_PUBLIC, SPIN_TRUSTED
from kernel.sys.verifier import Diagnostic, check
from machine.hostfile import HOST_TEXT_MAX, HostFileError, read_text


def run(args: argparse.Namespace) -> int:
    status = 0
    for name in args.files:
        status = max(status, check_file(Path(name), args.trusted))
    return status


def check_file(path: Path, trusted: bool = False) -> int:
    try:  # bounded: a device or FIFO named by mistake is refused, not read forever
        source = read_text(path, HOST_TEXT_MAX, "an extension (Python source)")
    except HostFileError as e:
        print(e, file=sys.stderr)
        return 2
    result = check(source, str(path))
    if isinstance(result, list):
        for d in result:
            print(d)
        if any(d.rule == "syntax-error" for d in result):
            return 2
        print(f"{path}: rejected ({len(result)} problem{'s' if len(result) != 1 else ''})")
        return 1
    known = set(SPIN_PUBLIC) | (set(SPIN_TRUSTED) if trusted else set())
    unknown = [Diagnostic(str(path), line, 1, "unknown-interface", f"`{name}` is not an interface the kernel "
                          f"exports to {'trusted ' if trusted else ''}extensions",
                          f"choose from {', '.join(sorted(known))}")
               for name, line in result.imports if name not in known]  # fmt: skip
    for d in unknown:
        print(d)
    if unknown:
        print(f"{path}: rejected ({len(unknown)} problem{'s' if len(unknown) != 1 else ''})")
        return 1
    names = ", ".join(n for n, _ in result.imports) or "nothing"
    print(f"{path}: accepted (imports {names}{'; defines init()' if result.has_init else ''})")
    return 0
