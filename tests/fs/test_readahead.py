"""Read-ahead under software feedback (kernel/fs/readahead.py, Synthetix §3.2): the pure
controllers on made-up samples, and the file system's loop on the phased workload."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.boot import boot
from kernel.core.costs import CLOCK_MHZ
from kernel.fs import readworld
from kernel.fs.readahead import DAMPED, UNDAMPED, Controller, Sample, make_policy
from kernel.params import READAHEAD_MAX_WINDOW

samples = st.lists(
    st.tuples(st.integers(0, 40_000), st.booleans(), st.booleans(), st.integers(0, 40), st.integers(0, 40)),
    max_size=300,
)


def feed(policy: object, raw: list[tuple[int, bool, bool, int, int]]) -> list[int]:
    """The windows a policy answers to samples spaced by the given gaps (µs)."""
    now, out = 0, []
    for gap, seq, waited, lead, wasted in raw:
        now += gap * CLOCK_MHZ
        out.append(policy.feed(Sample(now, seq, waited, lead, wasted)))  # type: ignore[attr-defined]
    return out


def turns(windows: list[int], start: int) -> int:
    last, n, prev = 0, 0, start
    for w in windows:
        if w != prev:
            move = 1 if w > prev else -1
            n += last not in (0, move)
            last, prev = move, w
    return n


@settings(max_examples=300, deadline=None)
@given(samples, st.sampled_from(["none", "fixed", "fixed:3", "undamped", "damped"]))
def test_the_window_stays_within_its_bounds_for_any_samples(raw: list, spec: str) -> None:
    assert all(0 <= w <= READAHEAD_MAX_WINDOW for w in feed(make_policy(spec), raw))


@settings(max_examples=300, deadline=None)
@given(samples)
def test_the_damped_window_moves_at_most_once_a_hold(raw: list) -> None:
    """Synthetix §4's damping as a guarantee: after a change, no action for the hold."""
    c, now, last = Controller(DAMPED), 0, None
    for gap, seq, waited, lead, wasted in raw:
        now += gap * CLOCK_MHZ
        before = c.window
        if c.feed(Sample(now, seq, waited, lead, wasted)) != before:
            assert last is None or now - last >= DAMPED.hold_us * CLOCK_MHZ
            last = now


def closed_loop(tuning: object, phases: list[tuple[bool, int]], compute_us: int, stream_us: int,
                access_us: int, seed: int) -> list[int]:  # fmt: skip
    """The windows a controller sets on a toy disk and reader: the reader computes ``compute_us``
    between reads of one chunk each (phases: (sequential, reads)); the disk serves one chunk at a
    time, ``stream_us`` if it follows the chunk before it in the queue, else ``access_us`` and a
    seeded rotational delay. A sample is what the file system would see."""
    import random

    rng = random.Random(seed)
    c = Controller(tuning)  # type: ignore[arg-type]
    ready: dict[int, int] = {}  # chunk -> when it is (or will be) in
    disk_free, last_block, now, pos, nxt = 0, -2, 0, 0, 0
    issued: set[int] = set()
    out = []

    def request(chunk: int, at: int) -> None:
        nonlocal disk_free, last_block
        start = max(at, disk_free)
        took = stream_us if chunk == last_block + 1 and disk_free >= at else access_us + rng.randrange(11_000)
        disk_free, last_block = start + took, chunk
        ready[chunk] = disk_free

    for sequential, reads in phases:
        for _ in range(reads):
            pos = nxt if sequential else rng.randrange(10_000, 1 << 30)
            seq = pos == nxt
            if pos not in ready:
                request(pos, now)
            waited = ready[pos] > now
            now = max(now, ready[pos])
            issued.discard(pos)
            wasted = 0 if seq else len(issued)
            if not seq:
                issued.clear()
            lead = 0
            while ready.get(pos + 1 + lead, now + 1) <= now:
                lead += 1
            w = c.feed(Sample(now * CLOCK_MHZ, seq, waited, lead, wasted))
            out.append(w)
            for ch in range(pos + 1, pos + 1 + w):
                if ch not in ready:
                    request(ch, now)
                    issued.add(ch)
            nxt = pos + 1
            now += compute_us
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(10, 80)), min_size=1, max_size=5),
       st.integers(500, 8000), st.integers(1500, 4000), st.integers(3000, 12000), st.integers(0, 1 << 16))  # fmt: skip
def test_the_damped_window_turns_no_more_often_than_the_undamped_one(phases: list, compute: int, stream: int,
                                                                     access: int, seed: int) -> None:  # fmt: skip
    """On the same workload and disk (closed loop: the window changes what the next samples see)."""
    damped = turns(closed_loop(DAMPED, phases, compute, stream, access, seed), 1)
    undamped = turns(closed_loop(UNDAMPED, phases, compute, stream, access, seed), 1)
    assert damped <= undamped


def test_the_undamped_controller_reacts_to_every_sample() -> None:
    c = Controller(UNDAMPED, start=2)
    assert c.feed(Sample(0, True, True, 0, 0)) == 4  # a wait doubles
    assert c.feed(Sample(1, True, False, 3, 0)) == 2  # a lead of more than one chunk halves
    assert c.feed(Sample(2, True, False, 1, 0)) == 2  # within its (zero-width) band: hold
    assert c.feed(Sample(3, False, False, 0, 0)) == 1  # a random read halves


def test_the_damped_controller_steps_holds_and_keeps_a_lead_inside_its_band() -> None:
    c = Controller(DAMPED, start=2)
    assert c.feed(Sample(0, True, True, 0, 0)) == 3, "a wait: one step, not a doubling"
    hold = DAMPED.hold_us * CLOCK_MHZ
    assert c.feed(Sample(hold - 1, True, True, 0, 0)) == 3, "still held, however hard it is pushed"
    assert c.feed(Sample(hold, True, True, 0, 0)) == 4, "the hold is over: the next step"
    ws = [c.feed(Sample(hold * (1 + i), True, False, 3, 0)) for i in range(1, 20)]
    assert ws == [5] * 19, "the waits' average (0.44) steps once more, then a lead of 3 (< 4) is inside the band"
    assert c.feed(Sample(hold * 30, False, False, 0, 3)) == 2, "a jump that wastes read-ahead: it halves"
    assert c.feed(Sample(hold * 30 + 1, True, False, 9, 0)) == 2, "held: the lead of 9 waits for the hold"


def test_a_bad_policy_is_one_line_saying_which() -> None:
    for bad, says in (("fast", "one of none, fixed[:N], undamped, damped"), ("fixed:0", "1 to 32"),
                      ("fixed:x", "1 to 32"), ("damped:2", "one of")):  # fmt: skip
        with pytest.raises(ValueError, match=r"read-ahead policy") as e:
            make_policy(bad)
        assert says in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="no disk"):
        boot(readahead="damped")


def test_read_ahead_is_off_unless_asked_for() -> None:
    k = boot(disk_image=readworld.image(4, 1))
    assert k.fs is not None and k.fs.readahead is None
    assert not any(line.startswith("read-ahead") for line in k.boot_log)


@pytest.fixture(scope="module")
def runs() -> dict[str, readworld.Measured]:
    disk = readworld.image(32, 4)
    return {p: readworld.run(p, chunks=32, random=16, disk=disk) for p in ("none", "fixed:8", "undamped", "damped")}


def test_every_policy_reads_the_same_bytes_and_counts_each_read_once(runs: dict) -> None:
    sums = {p: [ph.sum for ph in m.phases] for p, m in runs.items()}
    assert len({tuple(s) for s in sums.values()}) == 1, sums
    for m in runs.values():
        assert m.status == 0 and [ph.reads for ph in m.phases] == [32, 16, 32]
        assert m.figures["reads"] == 80, "a read that blocked and restarted is one sample, not two"


def test_read_ahead_hides_the_disk_and_a_fixed_window_wastes_it_on_random_reads(runs: dict) -> None:
    none, fixed, damped = runs["none"], runs["fixed:8"], runs["damped"]
    assert none.figures["prefetched"] == 0 and none.figures["waited"] >= 78
    assert damped.figures["waited"] < none.figures["waited"] / 2
    assert damped.cycles < none.cycles * 0.7
    rnd = {p: next(ph.cycles for ph in m.phases if ph.name == "random") for p, m in runs.items()}
    assert fixed.figures["wasted"] > 4 * damped.figures["wasted"] and rnd["fixed:8"] > 1.3 * rnd["damped"]


def test_the_undamped_window_swings_and_the_damped_one_settles(runs: dict) -> None:
    und, dam = runs["undamped"], runs["damped"]
    assert und.figures["turns"] >= 6 and dam.figures["turns"] <= 2
    assert dam.figures["turns"] < und.figures["turns"]
    assert [w for _, w in dam.windows][-1] >= 3, dam.windows  # it ends the last sequential phase reading ahead
