"""The web server's hybrid cache policy against LRU for everything (SOSP'95 §5.4).

The same seeded request sequence -- many small files, requested often, and
a few large ones, requested rarely -- against two fresh web worlds
(kernel/net/webworld.py) that differ only in the web_server extension's
POLICY setting. The panes show the web host 10.0.0.1.
"""

import random

from kernel import inspect
from kernel.net.webworld import WebWorld
from scenarios.engine import Lesson

lesson = Lesson(
    "cache_policy",
    "Hybrid caching against LRU",
    "LRU for small files, no cache for large ones, against LRU for everything (SOSP'95 §5.4).",
)
CACHE_BYTES = 65536  # small settings, so a short run shows the effect
SMALL_LIMIT = 8192
SMALL = [f"s{i:02d}.html" for i in range(12)]
LARGE = [f"big{i}.bin" for i in range(3)]
REQUESTS = 48
EVERY = 8  # one request in EVERY is for a large file


def mix(seed):
    """The files and the request sequence: small ones by Zipf popularity (weight 1/rank), every 8th a large one."""
    rng = random.Random(seed)
    files = {n: rng.randbytes(rng.randint(2048, 6144)) for n in SMALL}
    files.update({n: rng.randbytes(rng.randint(40 << 10, 56 << 10)) for n in LARGE})
    weights = [1 / (i + 1) for i in range(len(SMALL))]
    seq = [LARGE[(i // EVERY) % len(LARGE)] if i % EVERY == EVERY - 1 else rng.choices(SMALL, weights)[0]
           for i in range(REQUESTS)]  # fmt: skip
    return files, seq


def serve(run, policy):
    """A fresh world with ``policy``, the whole sequence fetched; what it counted."""
    files, seq = run.state["files"], run.state["seq"]
    w = run.world(WebWorld(files, policy=policy, seed=run.seed,
                           settings={"CACHE_BYTES": CACHE_BYTES, "SMALL_LIMIT": SMALL_LIMIT}))  # fmt: skip
    lat = {"small": [], "large": []}
    bad = []
    for name in seq:
        r = w.fetch("/" + name)
        if r.status != 200 or r.body != files[name]:
            bad.append(f"/{name}: {r.status} {r.error}")
        lat["large" if name in LARGE else "small"].append(r.latency_us)
    c = inspect.extension_globals(w.web, "web_server")
    out = {key: c[key] for key in ("hits_memory", "hits_disk", "hits_nfs", "evictions", "requests")}
    every = lat["small"] + lat["large"]
    out.update(mean=sum(every) / len(every) / 1000, small=sum(lat["small"]) / len(lat["small"]) / 1000,
               large=sum(lat["large"]) / len(lat["large"]) / 1000, bad=bad, world=w,
               cycles=inspect.counters(w.web).cycles)  # fmt: skip
    run.state[policy] = out
    return out


def nfs_calls(w):
    """Calls of the NFS client's binding on UDP.PacketArrived: NFS replies the web host took in."""
    b = next((b for b in inspect.bindings(w.web, "UDP.PacketArrived") if b.owner == "nfs client"), None)
    return b.calls if b else 0


def virtual(cycles):
    """Virtual µs as the CPU pane prints them."""
    return f"{cycles / 133:,.1f}"


@lesson.step(
    "The mix",
    pane="Scenario",
    narration=f"""
§5.4: a web server "should cache recently accessed objects, not cache large objects that
are infrequently accessed" (after Chankhunthod et al. '95). SPIN's server, which controls
its own cache, uses a **hybrid** policy: LRU for small files, no caching for large ones.
Here: {len(SMALL)} small files of 2-6 KiB, requested by Zipf popularity, and {len(LARGE)}
large ones of 40-56 KiB, one request in {EVERY}. The memory cache holds
{CACHE_BYTES // 1024} KiB; SMALL_LIMIT is {SMALL_LIMIT // 1024} KiB (small settings, so a
short run shows the effect; the extension's defaults are 256 and 32 KiB). The small files
are on the web host's own disk; the large ones only on the NFS server. Both policies get
the same seeded sequence of {REQUESTS} requests.
""",
)
def the_mix(run):
    files, seq = mix(run.seed)
    run.state.update(files=files, seq=seq)
    small_bytes = sum(len(files[n]) for n in SMALL)
    large = [n for n in seq if n in LARGE]
    run.exhibit("the files", ["kind", "files", "bytes", "where", "requests"], [
        ["small", len(SMALL), f"{small_bytes:,}", "web host's disk and the NFS server", REQUESTS - len(large)],
        ["large", len(LARGE), f"{sum(len(files[n]) for n in LARGE):,}", "the NFS server only", len(large)],
    ])  # fmt: skip
    run.check("the small files fit in the cache together, a large one takes most of it",
              small_bytes <= CACHE_BYTES and all(len(files[n]) > CACHE_BYTES // 2 for n in LARGE),
              f"small files {small_bytes:,} bytes, large {[len(files[n]) for n in LARGE]}, cache {CACHE_BYTES:,}")  # fmt: skip
    run.ask("How many of the requests are for large files? (the table)", len(large))


@lesson.step(
    "Hybrid serves the sequence",
    pane="CPU",
    watch=True,
    pace_us=100_000,
    narration="""
The hybrid server takes the whole sequence, one connection a request. Small files miss
once (from the local disk) and then stay in memory; a large file is read by NFS every
time and never kept, so it pushes nothing out. When the run ends, read the web host's
**virtual** time on the CPU pane: the world booted the same way for both policies, so it
is a fair clock for the whole run (modeled: cycles ÷ 133 MHz).
""",
)
def hybrid(run):
    h = serve(run, "hybrid")
    run.check("every answer was the file, byte for byte", not h["bad"], "; ".join(h["bad"][:3]) or f"{REQUESTS} ok")
    run.check("hybrid never evicted: the small files all fit, the large ones never went in",
              h["evictions"] == 0, f"evictions {h['evictions']}")  # fmt: skip
    run.ask("What virtual time does the web host's CPU pane show? (µs)", virtual(h["cycles"]))


@lesson.step(
    "Large files cross the wire every time",
    pane="Events",
    narration="""
Under hybrid each large request is a trip to the NFS server. The kernel's NFS client is
a binding on **UDP.PacketArrived** (owner `nfs client`); its *calls* count the NFS replies
the web host took in (an 8 KiB READ reply counts once, reassembled from its fragments).
Read it on the Events pane.
""",
)
def hybrid_nfs(run):
    h = run.state["hybrid"]
    w = h["world"]
    run.show_event("UDP.PacketArrived")
    large = sum(1 for n in run.state["seq"] if n in LARGE)
    h["nfs"] = nfs_calls(w)
    run.check("every large request went to NFS, none was answered from memory", h["hits_nfs"] == large,
              f"hits_nfs {h['hits_nfs']} for {large} large requests")  # fmt: skip
    run.ask("How many calls has the NFS client's binding on UDP.PacketArrived had? (Events pane)", h["nfs"])


@lesson.step(
    "LRU serves the same sequence",
    pane="CPU",
    watch=True,
    pace_us=100_000,
    narration="""
A fresh world whose server caches **everything** by LRU (POLICY "lru"), the same requests
in the same order. A large file now goes into memory -- and to make room the cache evicts
the least recently used files, most of the small ones. The next requests for them go back
to the disk. Read the virtual time on the CPU pane again and compare it with hybrid's.
""",
)
def lru(run):
    h, lr = run.state["hybrid"], serve(run, "lru")
    run.check("every answer was the file, byte for byte", not lr["bad"], "; ".join(lr["bad"][:3]) or f"{REQUESTS} ok")
    run.check("LRU evicted small files to make room for large ones", lr["evictions"] > 0,
              f"evictions {lr['evictions']}")  # fmt: skip
    run.check("the same sequence took LRU longer", lr["cycles"] > h["cycles"],
              f"{virtual(lr['cycles'])} µs against hybrid's {virtual(h['cycles'])} µs (modeled)")  # fmt: skip
    run.ask("What virtual time does the web host's CPU pane show now? (µs)", virtual(lr["cycles"]))


@lesson.step(
    "Caching the large files bought nothing",
    pane="Events",
    narration="""
LRU *did* cache each large file -- but a large file takes most of the cache, and by the
time the same one was asked for again, other files had pushed it out. The NFS client's
binding counts the same replies as under hybrid: not one NFS trip was saved. Read its
calls on the Events pane.
""",
)
def lru_nfs(run):
    h, lr = run.state["hybrid"], run.state["lru"]
    run.show_event("UDP.PacketArrived")
    lr["nfs"] = nfs_calls(lr["world"])
    run.check("LRU saved no NFS trip", lr["hits_nfs"] == h["hits_nfs"] and lr["nfs"] == h["nfs"],
              f"hits_nfs {lr['hits_nfs']} vs {h['hits_nfs']}; NFS replies {lr['nfs']} vs {h['nfs']}")  # fmt: skip
    run.ask("How many calls has the NFS client's binding had under LRU? (Events pane)", lr["nfs"])


@lesson.step(
    "Which wins, and why",
    pane="Scenario",
    narration="""
The server's counters for both runs, and the client's mean latency (**modeled**: virtual
time at 133 MHz, connect to last byte, one connection a request). Under LRU each large
file evicts several small ones, which then come from the disk instead of memory: fewer
memory hits, more disk reads, and the small requests -- most of the traffic -- get slower.
The large requests cost the same either way (NFS every time). The workbench's departures:
files are classed by size, not by type as the paper's server did, and the figures are
this small run's, not a measured trace.
""",
)
def verdict(run):
    h, lr = run.state["hybrid"], run.state["lru"]
    rows = [[p, s["hits_memory"], s["hits_disk"], s["hits_nfs"], s["evictions"], f"{s['mean']:.2f}",
             f"{s['small']:.2f}", f"{s['large']:.1f}"] for p, s in (("hybrid", h), ("lru", lr))]  # fmt: skip
    run.exhibit("the same sequence under each policy (latency modeled, ms)",
                ["policy", "memory hits", "disk hits", "NFS", "evictions", "mean ms", "small ms", "large ms"], rows)  # fmt: skip
    run.check("hybrid answered more requests from memory and fewer from the disk",
              h["hits_memory"] > lr["hits_memory"] and h["hits_disk"] < lr["hits_disk"],
              f"memory {h['hits_memory']} vs {lr['hits_memory']}, disk {h['hits_disk']} vs {lr['hits_disk']}")  # fmt: skip
    run.check("hybrid's mean latency is lower, on the small files most of all",
              h["mean"] < lr["mean"] and h["small"] < lr["small"],
              f"mean {h['mean']:.2f} vs {lr['mean']:.2f} ms; small {h['small']:.2f} vs {lr['small']:.2f} ms")  # fmt: skip
    winner = "hybrid" if h["mean"] < lr["mean"] else "lru"
    run.ask("Which policy has the lower mean latency? (the table)", winner)
    run.ask("How many evictions did LRU make? (the table)", lr["evictions"])
