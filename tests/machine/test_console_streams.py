"""The console device keeps stderr apart and queues Ctrl-D as a terminal does."""

from __future__ import annotations

import pytest

from machine.console import STDERR, Console
from machine.fields import Misfit


def test_stderr_spans_merge_and_the_host_hears_each_stream_apart() -> None:
    out: list[bytes] = []
    err: list[bytes] = []
    c = Console(out.append)
    c.route_errors(err.append)
    c.send(b"a\n")
    c.send(b"e1 ", STDERR)
    c.send(b"e2\n", STDERR)
    c.send(b"b\n")
    assert c.errors == [[2, 8]]
    assert c.pieces() == [(b"a\n", 1), (b"e1 e2\n", 2), (b"b\n", 1)]
    assert (out, err) == ([b"a\n", b"b\n"], [b"e1 ", b"e2\n"])
    assert bytes(c.output) == b"a\ne1 e2\nb\n", "the console's own output keeps both, in order"


def test_an_end_of_file_ends_one_read_and_input_after_it_reads_on() -> None:
    c = Console()
    assert c.take(10) is None and not c.readable
    c.feed(b"abc")
    c.end_of_input()
    c.feed(b"de")
    assert c.take(10) == b"abc", "a read stops at the end of file"
    assert c.take(10) == b"", "the next read finds it"
    assert c.take(1) == b"d" and c.take(10) == b"e"
    assert c.take(10) is None, "one Ctrl-D is one end of file"


def test_a_saved_console_with_bad_spans_is_refused_by_name() -> None:
    c = Console()
    c.send(b"hello")
    c.feed(b"x")
    good = c.save_state()
    for field, value, words in [("errors", [[3, 9]], "console.errors[0]"), ("errors", [[0, 2], [2, 4]], "errors[1]"),
                                ("eofs", [2], "console.eofs[0]"), ("eofs", "x", "console.eofs")]:  # fmt: skip
        with pytest.raises(Misfit, match=words.replace("[", r"\[")):
            Console().load_state({**good, field: value})
    old = {k: good[k] for k in ("output", "input")}  # saved before the streams were kept apart
    back = Console()
    back.load_state(old)
    assert back.errors == [] and back.eofs == [] and bytes(back.output) == b"hello"
