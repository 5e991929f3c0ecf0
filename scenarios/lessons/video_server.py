"""The video server of SOSP'95 §5.4 (Figures 5 and 6): three extensions, a
multicast handler on UDP.PacketSend, and the server's utilization against
streams, SPIN against the DEC OSF/1 way.

The world is kernel/net/videoworld.py's: the server 10.0.0.1 (the panes
show it), sink clients on 10.0.0.2, and with ``viewer=True`` a client with
a frame buffer on 10.0.0.3 running extensions/video_client.py.
"""

from kernel import inspect
from kernel.net.videoworld import VideoWorld
from scenarios.engine import Lesson

lesson = Lesson(
    "video_server",
    "The video server and its utilization curve",
    "Multicast on the send event: each packet goes down the graph once, not once per client (SOSP'95 §5.4).",
)
STREAMS = 3
WARMUP_US = 60_000
WATCH_US = 200_000
CURVE = (1, 5)  # streams measured for the curve
PAPER = "at 15 streams both saturate the T3 and SPIN uses about half the processor of DEC OSF/1"


def utilization(loops, idle):
    return round(100 * (1 - loops / idle), 1)


@lesson.step(
    "Three extensions",
    pane="Domains",
    narration="""
§5.4: "The server is structured as three kernel extensions, one that uses the local file
system to read video frames from the disk, another that sends the video out over the
network, and a third that registers itself as a handler on the SendPacket event,
transforming the single send into a multicast to a list of clients." Here they are
`video_reader` (Files.Read into the kernel's bounded Reel), `video_sender` (a 30 frames/s
virtual-time Timer, one UDP.Send per 1 KiB chunk, to a group port on the server itself)
and `video_multicast`. The server 10.0.0.1 has 3 clients: two sinks on 10.0.0.2 and one
viewer with a frame buffer on 10.0.0.3. On the Domains pane, each extension's imports say
where they resolved: which one imports **Multicast**?
""",
)
def three(run):
    w = run.world(VideoWorld(STREAMS, "spin", "dma", viewer=True, trace=run.trace))
    run.state["w"] = w
    doms = {d.name: d for d in inspect.domains(w.server)}
    exts = [n for n in ("video_reader", "video_sender", "video_multicast") if n in doms]
    mc = [n for n, d in doms.items() if any(i == "Multicast" for i, _ in d.imports)]
    run.check("the three extensions are linked on the server", len(exts) == 3, ", ".join(doms))
    run.check("only the multicast extension imports Multicast", mc == ["video_multicast"], f"importers: {mc}")
    run.ask("Which extension imports Multicast? (Domains pane)", mc[0] if mc else "")


@lesson.step(
    "SendPacket, handled",
    pane="Events",
    watch=True,
    pace_us=40_000,
    narration=f"""
{WATCH_US // 1000} ms of the stream. The sender's one `UDP.Send` per chunk raises
**UDP.PacketSend** (the workbench's name for the paper's SendPacket). video_multicast's
handler is bound there **First** and **Cancel**, guarded `to_group` (the group port on the
server's own address): it takes the datagram down the rest of the graph once --
one UDP header and checksum, one IP header -- and hands the driver one packet per client,
each with its own addresses (kernel/net/multicast.py): one **driver send** per client.
Cancel means UDP's own send handler, `Udp._send`, never sees these datagrams. On the Events pane, the bindings of `UDP.PacketSend`: how many calls
has video_multicast's handler had?
""",
)
def send_event(run):
    w = run.state["w"]
    w.net.run_us(WATCH_US)
    run.show_event("UDP.PacketSend")
    rows = inspect.bindings(w.server, "UDP.PacketSend")
    cast = next((b for b in rows if b.owner == "video_multicast"), None)
    own = next((b for b in rows if b.handler == "Udp._send"), None)
    sent = w.globals("video_sender")["packets_sent"]
    run.check("the multicast handler runs first and cancels, once per datagram sent",
              cast is not None and "FIRST" in cast.options and "CANCEL" in cast.options and cast.calls == sent > 0,
              "; ".join(f"#{b.id} {b.owner}:{b.handler} {b.options} calls {b.calls}" for b in rows)
              + f"; sender's packets {sent}")  # fmt: skip
    run.check("UDP's own send handler never saw a video datagram", own is not None and own.calls == 0,
              f"Udp._send calls {own.calls if own else '-'}")  # fmt: skip
    run.ask("How many calls has video_multicast's handler on UDP.PacketSend had? (Events pane)",
            f"{cast.calls:,}" if cast else "")  # fmt: skip


@lesson.step(
    "The client's frame buffer",
    pane="Video",
    narration="""
The panes now show the viewer, 10.0.0.3 (press `h` to go round the hosts). Its
`video_client` extension takes each datagram in the kernel's network thread, puts the
frame's chunks straight into the frame buffer and presents the frame when all its chunks
are in (§5.4, Figure 5: "writes them directly to the frame buffer"). The Video pane draws
the frame buffer (half-block pixels) and, under it, frames presented and the client's
counters. How many frames has it presented?
""",
)
def video(run):
    w = run.state["w"]
    run.show_host(w.display)
    view = inspect.framebuffer(w.display)
    c = view.stream if view else {}
    sent = w.globals("video_sender")["frames_sent"]
    run.check("the viewer showed the frames sent (one may still be on its way), none malformed",
              view is not None and sent - 1 <= view.frames == c.get("frames_shown") and c.get("malformed") == 0
              and view.frames > 0,
              f"presented {view.frames if view else 0} of {sent} sent; client counters {c}")  # fmt: skip
    run.ask("How many frames has the viewer presented? (Video pane)", f"{view.frames:,}" if view else "")


@lesson.step(
    "One send down the graph, three driver sends",
    pane="Packets",
    narration=f"""
Back to the server (10.0.0.1). Its Packets pane's newest rows: each chunk leaves
{STREAMS} times, once per client, all from the sender's port -- but it went down the
protocol graph only once: the server's UDP output counter grew by one per chunk, the
packets handed to the driver by {STREAMS}, one **driver send** each. The per-client packets
differ only in their addresses, patched into the headers with the checksums adjusted
(RFC 1624). Two words kept apart here: a *driver send* is one packet the driver puts on
the card; a *data copy* is the packet's bytes copied in memory (the CPU pane's
**copies**: copyin from a user process into the kernel), and the SPIN way makes none.
Which address and port gets the packet for the frame-buffer client?
""",
)
def copies(run):
    w = run.state["w"]
    run.show_host(0)
    c = w.counters()
    sent = w.globals("video_sender")["packets_sent"]
    out = [p for p in inspect.packets(w.server) if p.direction == "out" and "UDP" in p.summary][-STREAMS:]
    dests = [p.summary.split("> ")[1].split(" ")[0] for p in out]
    run.check("each datagram went down the graph once and to the driver once per client",
              c["udp_out"] == sent == w.multicast.sends and w.multicast.copies == STREAMS * sent,
              f"UDP out {c['udp_out']}, sender's sends {sent}, packets handed to the driver {w.multicast.copies} "
              f"(driver sends {c['driver_sends']} so far, the rest queued)")  # fmt: skip
    run.check("the last chunk's per-client packets went to every client",
              sorted(dests) == sorted(f"{a}:{p}" for a, p in w.clients), ", ".join(dests))  # fmt: skip
    run.check("no crossing and no data copy into the kernel: nothing ran at user level",
              c["crossings"] == 0 and c["copies"] == 0,
              f"crossings {c['crossings']}, data copies {c['copies']}")  # fmt: skip
    run.ask("Which address:port gets the viewer's packet? (Packets pane)", "10.0.0.3:5004")


@lesson.step(
    "The DEC OSF/1 way",
    pane="CPU",
    watch=True,
    pace_us=40_000,
    narration=f"""
The same {STREAMS} clients served the DEC OSF/1 way: `vserver` (scenarios/programs/kernel/
vserver.c), a user process with a socket, reads the movie with `read` and calls `sendto`
**once per client per packet**: each call a trap, a data copy of the packet into the
kernel (copyin) and a whole trip down the protocol stack (§5.4). Watch the server's CPU
pane: **crossings** and **copies** (data copies) climb with every packet. Read crossings
when it ends.
""",
)
def osf1(run):
    w = run.world(VideoWorld(STREAMS, "osf1", "dma", viewer=True, trace=run.trace))
    run.state["osf"] = w
    w.net.run_us(WARMUP_US + WATCH_US)
    c = w.counters()
    k = inspect.counters(w.server)
    run.check("one trip down the stack and one data copy (copyin) per client per packet",
              c["udp_out"] > 0 and c["copies"] == c["udp_out"] and c["driver_sends"] >= c["udp_out"],
              f"UDP out {c['udp_out']}, data copies {c['copies']}, driver sends {c['driver_sends']}")  # fmt: skip
    run.check("at least a trap in and a return out per sendto", k.crossings >= 2 * c["udp_out"],
              f"crossings {k.crossings} for {c['udp_out']} sendto")  # fmt: skip
    run.ask("What does the server's CPU pane show as crossings?", f"{k.crossings:,}")


@lesson.step(
    "The utilization curve",
    pane="Scenario",
    narration=f"""
Figure 6's measurement, the paper's way: a low-priority idle thread's progress on the
server (kernel/core/idleprobe.py), against its progress on an idle server:
utilization = 1 - loops / idle loops, over {WATCH_US // 1000} ms after a warm-up, at
{CURVE[0]} and {CURVE[1]} streams of 2.95 Mb/s (raw 128x96 frames, 30 a second) on a 45
Mb/s wire, the card driven by DMA like the paper's T3. The paper: {PAPER}. Ours are
**modeled** virtual time (kernel/core/costs.py), a short run, and the workbench's
departures: its own frame format, sinks instead of viewers for all but one client, and a
Lance-like card switched to per-frame DMA costs rather than a T3. `spinwb bench video`
draws the whole curve.
""",
)
def curve(run):
    idle_w = VideoWorld(1, "idle", "dma")
    idle, _, _ = idle_w.measure(WARMUP_US, WATCH_US)
    idle_w.close()
    u = {}
    for n in CURVE:
        for way in ("spin", "osf1"):
            w = VideoWorld(n, way, "dma")
            loops, d, _ = w.measure(WARMUP_US, WATCH_US)
            w.close()
            u[n, way] = (utilization(loops, idle), d["udp_out"], d["driver_sends"])
            run.tick()
    rows = [[n, way, f"{u[n, way][0]:.1f}", u[n, way][1], u[n, way][2]] for n in CURVE for way in ("spin", "osf1")]
    run.exhibit(f"server utilization over {WATCH_US // 1000} ms (modeled, idle-probe)",
                ["streams", "way", "utilization %", "down the graph", "driver sends"], rows)  # fmt: skip
    lo, hi = CURVE
    grow = {way: u[hi, way][0] - u[lo, way][0] for way in ("spin", "osf1")}
    run.check("both grow with streams, SPIN's more slowly",
              0 < grow["spin"] < grow["osf1"] and u[hi, "spin"][0] < u[hi, "osf1"][0],
              f"SPIN +{grow['spin']:.1f} points, OSF/1 way +{grow['osf1']:.1f} points")  # fmt: skip
    run.check("SPIN's datagrams go down the graph once for all clients, OSF/1's once per client",
              u[hi, "spin"][1] * hi <= u[hi, "spin"][2] + hi and u[hi, "osf1"][1] >= hi * u[hi, "spin"][1] - hi,
              f"at {hi} streams: SPIN {u[hi, 'spin'][1]} down, {u[hi, 'spin'][2]} sends; "
              f"OSF/1 {u[hi, 'osf1'][1]} down")  # fmt: skip
    run.ask(f"What is SPIN's utilization at {hi} streams? (the table, %)", f"{u[hi, 'spin'][0]:.1f}")
    run.ask(f"And the OSF/1 way's at {hi} streams? (%)", f"{u[hi, 'osf1'][0]:.1f}")
