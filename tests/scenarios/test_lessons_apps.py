"""The application lessons of issue 20 (the SPIN web server's home page and SOSP'95 §5.4): web_cache,
cache_policy, video_server. Each passes quickly enough for CI, and fails a
named check when the mechanism it teaches is broken: a server that caches
nothing, a "hybrid" that caches large files, a video server whose multicast
handler is gone or that sends each copy down the whole graph. Also
run.world and run.show_host, the engine's way to put these worlds on the panes."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.net import webworld
from kernel.net.multicast import Multicast
from kernel.net.videoworld import VideoWorld
from kernel.net.webworld import WebWorld
from scenarios import engine
from tests.scenarios.lesson_run import failed, run

LESSONS = ("web_cache", "cache_policy", "video_server")
HOST_BUDGET_S = 20.0  # CI runs every lesson


@pytest.mark.parametrize("name", LESSONS)
def test_the_lesson_passes_quickly_and_says_what_it_saw(name: str) -> None:
    r = run(name)
    assert r.passed, failed(r)
    assert 5 <= len(r.results) <= 10
    assert sum(res.host_seconds for res in r.results) < HOST_BUDGET_S
    assert any(s.watch for s in r.lesson.steps) or name == "web_cache"
    assert all(c.detail for res in r.results for c in res.checks), "every check says what it saw"
    text = " ".join(res.narration for res in r.results)
    assert "§5.4" in text and "modeled" in text and "departure" in text


def test_a_server_that_caches_nothing_fails_web_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """POLICY "none": the second fetch goes to NFS again instead of memory."""
    init = WebWorld.__init__

    def none(self: WebWorld, *a: Any, **kw: Any) -> None:
        kw["policy"] = "none"
        init(self, *a, **kw)

    monkeypatch.setattr(webworld.WebWorld, "__init__", none)
    bad = failed(run("web_cache"))
    assert "a memory hit: no disk, no NFS" in bad
    assert "nothing went to the file server" in bad


def test_a_hybrid_that_caches_large_files_fails_cache_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every world's server runs LRU for everything: "hybrid" evicts and loses its lead."""
    init = WebWorld.__init__

    def lru(self: WebWorld, *a: Any, **kw: Any) -> None:
        kw["policy"] = "lru"
        init(self, *a, **kw)

    monkeypatch.setattr(webworld.WebWorld, "__init__", lru)
    bad = failed(run("cache_policy"))
    assert "hybrid never evicted: the small files all fit, the large ones never went in" in bad
    assert "hybrid answered more requests from memory and fewer from the disk" in bad


def test_a_video_server_without_its_multicast_handler_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """video_multicast's binding on UDP.PacketSend is taken out once loaded: the sends reach UDP's own handler."""
    load = VideoWorld.load_spin

    def no_multicast(self: VideoWorld, clients: str | None = None) -> None:
        load(self, clients)
        for b in list(self.exts["video_multicast"].bindings):
            if b.event.name == "UDP.PacketSend":
                self.server.dispatcher.uninstall(b)

    monkeypatch.setattr(VideoWorld, "load_spin", no_multicast)
    bad = failed(run("video_server"))
    assert "the multicast handler runs first and cancels, once per datagram sent" in bad
    assert "UDP's own send handler never saw a video datagram" in bad


def test_a_multicast_that_goes_down_the_graph_per_client_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each client's copy is sent with UDP's whole path: once per client, as the OSF/1 way does."""

    def per_client(self: Multicast, who: str, d: Any, clients: Any) -> int:
        udp = self.stack.udp
        for addr, port in clients:
            udp.send(d.src_port, addr, port, bytes(d.payload))
        self.sends += 1
        self.copies += len(clients)
        return len(clients)

    monkeypatch.setattr(Multicast, "send", per_client)
    bad = failed(run("video_server"))
    assert "each datagram went down the graph once and to the driver once per client" in bad


def test_run_world_puts_a_world_on_the_panes_and_show_host_moves_them() -> None:
    lesson = engine.Lesson("t", "T")
    seen: list[tuple[int, int]] = []

    @lesson.step("one", pane="Video")
    def one(r: engine.Run) -> None:
        w = r.world(VideoWorld(2, "spin", viewer=True))
        r.check("the world's hosts are run.net's", r.net is w.net and r.shown_host == 0, str(r.shown_host))
        r.show_host(w.display)
        w.net.run_us(50_000)
        r.check("a step's virtual time counts from run.world", 0 < r.virtual_seconds() < 0.1, str(r.virtual_seconds()))
        with pytest.raises(TypeError, match="run.world takes a world"):
            r.world("not a world")
        with pytest.raises(ValueError, match="run.show_host takes one of run.net.hosts"):
            r.show_host(7)

    runner = engine.Runner(lesson)
    runner.run.on_world = lambda r: seen.append((len(r.net.hosts) if r.net else 0, r.shown_host))
    runner.run_all()
    assert runner.passed, [(c.text, c.detail) for res in runner.results for c in res.checks] + [
        res.error for res in runner.results
    ]
    assert seen[:2] == [(3, 0), (3, 2)]


def test_the_workbench_follows_show_host_and_then_the_student() -> None:
    from workbench.session import Session

    lesson = engine.Lesson("t", "T")

    @lesson.step("viewer", pane="Video")
    def viewer(r: engine.Run) -> None:
        w = r.world(VideoWorld(2, "spin", viewer=True))
        r.show_host(2)
        w.net.run_us(20_000)

    @lesson.step("still", pane="Video")
    def still(r: engine.Run) -> None:
        r.check("nothing asked", True, "")

    s = Session(scenario="video_server")
    s.lesson, s.runner = lesson, engine.Runner(lesson, trace=True)
    s.scenario_step()
    assert s.host_name == "10.0.0.3"
    s.focus = 0  # the student presses h
    s.scenario_step()
    assert s.host_name == "10.0.0.1", "a later step that asks for nothing leaves the student's choice alone"
