"""The SPIN web server's three-level cache (its home page of 1995; SOSP'95 §5.4).

The world is kernel/net/webworld.py's: the web server host 10.0.0.1
(extensions/web_server.py loaded as root, only index.html on its extent
disk), the NFS file server 10.0.0.2 (every file), the HTTP client
10.0.0.3. The panes show the web host, so each question is about it.
"""

import re

from kernel import inspect
from kernel.net.webworld import WebWorld
from scenarios.engine import Lesson

lesson = Lesson(
    "web_cache",
    "The web server's three-level cache",
    "Memory, then the local extent disk, then a remote NFS server (the SPIN web server's home page; SOSP'95 §5.4).",
)
REMOTE = "docs/sosp95.html"  # on the file server only
LOCAL = "index.html"  # on the web host's own disk too
FILES = {
    LOCAL: b"<!DOCTYPE html><title>SPIN</title><h1>SPIN web server</h1>\n" * 20,
    REMOTE: b"".join(f"<p>line {i}: extensibility, safety and performance</p>\n".encode() for i in range(180)),
}


def counters(run):
    return inspect.extension_globals(run.state["w"].web, "web_server")


def last_id(k):
    return max((p.id for p in inspect.packets(k)), default=0)


def nfs_rows(k, after):
    return [p for p in inspect.packets(k) if p.id > after and "· NFS" in p.summary]


def fetch(run, path):
    w = run.state["w"]
    mark, before = last_id(w.web), counters(run)
    r = w.fetch("/" + path)
    after = counters(run)
    delta = {key: after[key] - before.get(key, 0) for key in ("hits_memory", "hits_disk", "hits_nfs", "misses")}
    return r, mark, delta


@lesson.step(
    "The web server is a handler on TCP.Ready",
    pane="Events",
    narration="""
Three SPIN hosts on one 10 Mb/s wire: the **web server** 10.0.0.1 (the panes show it),
the **NFS file server** 10.0.0.2 holding every file, and the **client** 10.0.0.3. The web
server is not a process: it is the extension `web_server`, loaded into the kernel, with
a handler on **TCP.Ready** guarded `arg0.port == 80` (the SPIN web server's home page, 1995, linked
from the SPIN project's pages: the server "runs as a dynamically linked extension on top of the SPIN
kernel"). The kernel's TCP raises the event whenever a
connection on the port has news; the handler runs in the network thread.

On the Events pane, `TCP.Ready`'s bindings: which owner's guard selects port 80?
""",
)
def world(run):
    w = run.world(WebWorld(FILES, local=[LOCAL], seed=run.seed, settings={"CACHE_BYTES": 65536}))
    run.state["w"] = w
    run.show_event("TCP.Ready")
    rows = inspect.bindings(w.web, "TCP.Ready")
    mine = [b for b in rows if b.owner == "web_server"]
    run.check(
        "web_server's handler is bound on TCP.Ready, guarded to port 80",
        len(mine) == 1 and "80" in mine[0].guard,
        "; ".join(f"#{b.id} {b.owner}:{b.handler} guard {b.guard}" for b in rows),
    )
    run.check(
        "the web host's disk holds index.html, not docs/sosp95.html", w.local == [LOCAL], f"local files {w.local}"
    )
    run.ask("Whose binding on TCP.Ready is guarded arg0.port == 80? (Events pane)", mine[0].owner if mine else "")


@lesson.step(
    "A miss, a miss, and NFS",
    pane="Packets",
    watch=True,
    pace_us=8_000,
    narration=f"""
The client asks for `/{REMOTE}`. The server looks in its **memory** cache: nothing. It
asks the local extent file system (`Files.Read`, straight from the disk, no buffer cache:
§5.4's "no double buffering"): no such file. So it asks the **remote** level: the kernel's
NFS version 3 client (`NFS.Read`) sends ONC RPC calls over UDP to 10.0.0.2 port 2049:
**LOOKUP** per path component (`docs`, then `sosp95.html`), **GETATTR** for the size, then
**READ** in 8 KiB calls (the 8 KiB answers come back as IP fragments). Then the HTTP
answer goes out over TCP.

The Packets pane names each NFS call and reply with its xid. Read the GETATTR call's xid.
""",
)
def first(run):
    w = run.state["w"]
    r, mark, delta = fetch(run, REMOTE)
    rows = nfs_rows(w.web, mark)
    procs = [m.group(1) for p in rows if (m := re.search(r"NFS (\w+) call", p.summary))]
    run.check("the answer is the file, byte for byte", r.status == 200 and r.body == FILES[REMOTE],
              f"HTTP {r.status}, {len(r.body)} bytes, {r.latency_us / 1000:.1f} ms (modeled)")  # fmt: skip
    run.check("it missed memory and the disk and came from NFS",
              delta == {"hits_memory": 0, "hits_disk": 0, "hits_nfs": 1, "misses": 0}, str(delta))  # fmt: skip
    run.check("the NFS calls went LOOKUP, LOOKUP, GETATTR, READ...",
              procs[:3] == ["LOOKUP", "LOOKUP", "GETATTR"] and procs[3:] and set(procs[3:]) == {"READ"},
              " ".join(procs))  # fmt: skip
    run.state["first_us"] = r.latency_us
    getattr_row = next((p for p in rows if "GETATTR call" in p.summary), None)
    xid = getattr_row.summary.rsplit("xid ", 1)[1] if getattr_row else ""
    run.ask("What xid does the web host's GETATTR call carry? (Packets pane)", xid)


@lesson.step(
    "The NFS client is a binding too",
    pane="Events",
    narration="""
The kernel's NFS client bound a UDP port of its own the first time it was needed: its
endpoint is a binding on **UDP.PacketArrived**, guarded to that port, owner `nfs client`,
dispatched before UDP's default (which drops what nobody selected). Its *calls* are the
NFS replies that came back (the fragments count once, reassembled). On the Events pane,
the bindings of `UDP.PacketArrived`: which port does the NFS client's guard select?
""",
)
def nfs_binding(run):
    w = run.state["w"]
    run.show_event("UDP.PacketArrived")
    rows = inspect.bindings(w.web, "UDP.PacketArrived")
    nfs = next((b for b in rows if b.owner == "nfs client"), None)
    port = nfs.guard.rsplit("==", 1)[1].strip() if nfs else ""
    run.check("the NFS client's endpoint is bound, before UDP's default",
              nfs is not None and rows.index(nfs) < len(rows) - 1 and nfs.calls >= 4,
              "; ".join(f"#{b.id} {b.owner}:{b.handler} guard {b.guard} calls {b.calls}" for b in rows))  # fmt: skip
    run.ask("Which UDP port does the NFS client's binding select? (Events pane)", port)


@lesson.step(
    "The second fetch hits memory",
    pane="Packets",
    narration=f"""
The same request again. The file is {len(FILES[REMOTE]):,} bytes, under the hybrid policy's
SMALL_LIMIT (32 KiB), so the first fetch left it in the server's **memory** cache (LRU, 64
KiB here). This time no datagram goes to port 2049: the Packets pane's newest rows are
the TCP connection alone, every one from or to the web server's port. Which port is that?
""",
)
def second(run):
    w = run.state["w"]
    r, mark, delta = fetch(run, REMOTE)
    new = [p for p in inspect.packets(w.web) if p.id > mark]
    run.check("the answer is the file again", r.status == 200 and r.body == FILES[REMOTE], f"HTTP {r.status}")
    run.check("a memory hit: no disk, no NFS", delta["hits_memory"] == 1 and delta["hits_nfs"] == 0, str(delta))
    run.check("nothing went to the file server", not nfs_rows(w.web, mark) and all("TCP" in p.summary for p in new),
              f"{len(new)} packets, all TCP")  # fmt: skip
    run.check(
        "faster than the NFS fetch",
        r.latency_us < run.state["first_us"],
        f"{r.latency_us / 1000:.1f} ms against {run.state['first_us'] / 1000:.1f} ms (modeled)",
    )
    run.state["second_us"] = r.latency_us
    run.ask("From which port does the web host send every packet of this answer? (Packets pane)", 80)


@lesson.step(
    "A file on the local disk, and the three levels",
    pane="Scenario",
    narration=f"""
`/{LOCAL}` ({len(FILES[LOCAL]):,} bytes) is on the web host's own extent disk: a memory miss,
then `Files.Read`, one disk transfer, and no NFS; fetched again, it comes from memory. So
each level is timed on the same file as memory: {LOCAL} from the disk and from memory,
{REMOTE} from NFS and from memory. The table puts the four fetches side by side, with the
server's counters (its top-level globals, `hits_memory`, `hits_disk`, `hits_nfs`).
Latencies are **modeled** virtual time at 133 MHz on the client, connect to last byte.
The paper's figure is 5 ms for a cached file in SPIN's kernel (§5.4, no size given); our
memory hit on {REMOTE} is longer because it is the wire's time: {len(FILES[REMOTE]):,}
bytes are seven TCP segments of up to 1,460 bytes, about 1.2 ms each on this 10 Mb/s
wire, after the connection's set-up (SYN, SYN-ACK, ACK, the request). The workbench's
departures: the NFS server is another SPIN host (the paper's was a remote NFS server),
and MOUNT is left out (a fixed root handle).
""",
)
def local(run):
    w = run.state["w"]
    r, mark, delta = fetch(run, LOCAL)
    run.check("index.html came from the local disk, without NFS",
              r.status == 200 and r.body == FILES[LOCAL] and delta["hits_disk"] == 1 and not nfs_rows(w.web, mark),
              f"HTTP {r.status}, {delta}")  # fmt: skip
    again, _, delta2 = fetch(run, LOCAL)
    run.check("fetched again, index.html came from memory",
              again.status == 200 and again.body == FILES[LOCAL] and delta2["hits_memory"] == 1, str(delta2))  # fmt: skip
    c = counters(run)
    ms = {"nfs": run.state["first_us"] / 1000, "mem": run.state["second_us"] / 1000,
          "disk": r.latency_us / 1000, "mem_local": again.latency_us / 1000}  # fmt: skip
    rows = [
        [f"/{REMOTE}", f"{len(FILES[REMOTE]):,}", "NFS (10.0.0.2)", f"{ms['nfs']:.1f}"],
        [f"/{REMOTE}", f"{len(FILES[REMOTE]):,}", "memory", f"{ms['mem']:.1f}"],
        [f"/{LOCAL}", f"{len(FILES[LOCAL]):,}", "local disk", f"{ms['disk']:.1f}"],
        [f"/{LOCAL}", f"{len(FILES[LOCAL]):,}", "memory", f"{ms['mem_local']:.1f}"],
    ]
    run.exhibit("four fetches, in order (latency modeled, ms)", ["request", "bytes", "answered from", "latency ms"],
                rows)  # fmt: skip
    run.exhibit("web_server's counters", ["hits_memory", "hits_disk", "hits_nfs", "misses"],
                [[c["hits_memory"], c["hits_disk"], c["hits_nfs"], c["misses"]]])  # fmt: skip
    run.check("each file comes faster from memory than it did the first time: index.html from the disk, sosp95 from NFS",
              ms["mem_local"] < ms["disk"] and ms["mem"] < ms["nfs"],
              f"{LOCAL}: disk {ms['disk']:.1f}, memory {ms['mem_local']:.1f}; "
              f"{REMOTE}: NFS {ms['nfs']:.1f}, memory {ms['mem']:.1f} ms")  # fmt: skip
    run.ask(f"How many ms did the memory hit on {LOCAL} take? (the table)", rows[3][3])


@lesson.step(
    "The kernel's own status page",
    pane="Strands",
    narration="""
The server answers `/spin/threads` itself: the kernel's strands, from the inspection API
(`Inspect.Threads()`, the same the Strands pane reads) as HTML -- the commands the SPIN web server's
home page (1995) describes, which show the running SPIN OS: its threads, domains and heap. The client fetches it. The server made no strand of its
own: every request ran in the kernel's network thread, in the handler on TCP.Ready. The
page says which strand was *running* when it was made: find it on the Strands pane.
""",
)
def threads(run):
    w = run.state["w"]
    r = w.fetch("/spin/threads")
    page = r.body.decode(errors="replace")
    names = re.findall(r"<tr><td>\d+</td><td>([^<]+)</td>", page)
    running = re.findall(r"<tr><td>\d+</td><td>([^<]+)</td><td>[^<]*</td><td>[^<]*</td><td>running</td>", page)
    shown = [s.name for s in inspect.strands(w.web)]
    run.check("the page lists the strands the Strands pane shows", r.status == 200 and names == shown,
              f"page {names}; pane {shown}")  # fmt: skip
    run.check("no strand of the server's own: it runs in the kernel's network thread", running == ["netisr"],
              f"running when the page was made: {running}")  # fmt: skip
    run.ask("Which strand was running when the page was made? (Strands pane)", running[0] if running else "")


@lesson.step(
    "No crossings",
    pane="CPU",
    narration="""
Five requests, and the web host's **crossings** counter on the CPU pane has not moved
from zero: no system call, no trap into the kernel and no return out of it, because
nothing ran at user level -- the request was parsed, the cache looked up, NFS called and
the answer sent, all inside the kernel (§5.4: the server runs "as a kernel extension"; the SPIN project's page:
data passed by reference rather than copied). A UNIX-way server makes ten system calls a request:
accept, read, open, lseek, lseek, write, read, write, close, close (`spinwb bench web` compares the two).
""",
)
def no_crossings(run):
    w = run.state["w"]
    c = inspect.counters(w.web)
    run.check("the web host made no user/kernel crossing and no system call", c.crossings == 0 and c.syscalls == 0,
              f"crossings {c.crossings}, system calls {c.syscalls}, {counters(run)['requests']} requests")  # fmt: skip
    run.ask("How many crossings does the web host's CPU pane show?", c.crossings)
