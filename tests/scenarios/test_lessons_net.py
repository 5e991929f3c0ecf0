"""The two network lessons (udp_forwarding, SOSP'95 Table 6; user_endpoint,
Table 5): each passes, names a pane per step with every answer on it, and
fails a named check when the mechanism it teaches is broken -- a forwarder
that goes through user space, an in-kernel echo that crosses to user level."""

from __future__ import annotations

import pytest

from kernel.net import udp as U
from kernel.net.stack import NetStack
from scenarios import engine
from tests.scenarios.lesson_run import failed, run

LESSONS = ("udp_forwarding", "user_endpoint")


@pytest.mark.parametrize("name", LESSONS)
def test_the_lesson_passes_with_five_to_ten_steps_each_naming_a_pane(name: str) -> None:
    r = run(name)
    assert r.passed, failed(r)
    assert 5 <= len(r.results) <= 10
    assert all(res.pane in engine.PANES for res in r.results)
    scenario = [res for res in r.results if res.pane == "Scenario"]
    assert len(scenario) * 3 <= len(r.results), "the Scenario pane for at most a third of the steps"
    assert any(s.watch for s in r.lesson.steps), "a step where the machines run long enough to watch"
    assert all(c.detail for res in r.results for c in res.checks), "every check says what it saw"


def test_the_table_says_its_figures_are_modeled_and_calibrated() -> None:
    r = run("udp_forwarding")
    last = r.results[-1]
    assert "modeled" in last.narration and "calibrated" in last.narration and "565" in last.narration
    (ex,) = last.exhibits
    assert "ours vs paper" in ex.columns and [row[2] for row in ex.rows[:2]] == ["1344", "1607"]
    r = run("user_endpoint")
    last = r.results[-1]
    assert "calibrated" in last.narration and "by construction" in last.narration
    (ex,) = last.exhibits
    assert {"565", "789", "8.9"} <= {row[2] for row in ex.rows}


def test_a_forwarder_that_goes_through_user_space_fails_the_lesson(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node copies each datagram out to a buffer at user level and back in,
    with a trap each way, before forwarding it: what the splicer does."""
    forward = NetStack.forward_view

    def through_user(self: NetStack, pkt: object, src: str, dst: str) -> int:
        n = len(bytes(pkt.payload))  # type: ignore[attr-defined]
        self.copy(pkt.id, n, "copyout to a user buffer")  # type: ignore[attr-defined]
        self.copy(pkt.id, n, "copyin from the user buffer")  # type: ignore[attr-defined]
        self.sal.crossings += 4
        return forward(self, pkt, src, dst)

    monkeypatch.setattr(NetStack, "forward_view", through_user)
    r = run("udp_forwarding")
    bad = failed(r)
    assert "host 1 made no user/kernel crossing while forwarding, with a process bound to the port" in bad
    assert "one copy per forwarded datagram, in the kernel" in bad
    assert "no drop, and the splicer never saw it (no crossing on host 1)" in bad


def test_a_node_that_does_not_cancel_lets_the_splicer_see_the_datagrams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Cancel the splicer's socket, bound after the node, gets each datagram too."""
    from kernel.sys import dispatcher as D

    install = D.Dispatcher.install_handler

    def no_cancel(self: D.Dispatcher, event: object, handler: object, guard: object = None, **kw: object) -> object:
        if kw.get("owner") == "forward":
            kw["options"] = kw["options"] & ~D.CANCEL
        return install(self, event, handler, guard, **kw)

    monkeypatch.setattr(D.Dispatcher, "install_handler", no_cancel)
    r = run("udp_forwarding")
    assert "host 1 made no user/kernel crossing while forwarding, with a process bound to the port" in failed(r)


def test_an_in_kernel_echo_that_crosses_to_user_level_fails_the_lesson(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extension's UDP.Send goes up to a process and back: a copy and two
    crossings each way, as a socket's recvfrom and sendto would cost."""
    send = U._ExtensionUdp.Send

    def via_user(self: U._ExtensionUdp, src_port: object, dst: object, dst_port: object, data: object) -> int:
        st = self._udp.stack
        st.copy(0, len(bytes(data)), "copyout to a process")  # type: ignore[arg-type]
        st.copy(0, len(bytes(data)), "copyin from the process")  # type: ignore[arg-type]
        st.sal.crossings += 4
        return send(self, src_port, dst, dst_port, data)

    monkeypatch.setattr(U._ExtensionUdp, "Send", via_user)
    r = run("user_endpoint")
    bad = failed(r)
    assert "host 1 made no crossing and no copy while echoing in the kernel" in bad
    assert "no copy and no crossing on host 1: the datagram never left the kernel" in bad
