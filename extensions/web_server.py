"""The SPIN web server (the SPIN project's web server of 1995; SOSP'95 §5.4): HTTP as an extension on
the kernel's TCP, with a three-level cache and the kernel's own status pages.

A request is parsed in the network thread, in the kernel, under this
extension's fuel: no trap, no copy across a user/kernel boundary. A file
is looked for in memory (this extension's own cache), then on the local
extent file system (Files.Read: straight from the disk, no buffer cache
underneath -- §5.4's "no double buffering"), then on the remote NFS
server (NFS.Read). The cache policy is §5.4's hybrid one by default: LRU
for small files, large ones never cached (Chankhunthod et al. '95); "lru"
caches everything (large files push small ones out), "none" nothing.

HTTP/1.0 and 1.1 (RFC 9110, RFC 9112): GET and HEAD; persistent
connections (1.1's default, `Connection: close` ends one; 1.0 with
`Connection: keep-alive`); pipelined requests answered in order, even
when a later one is a memory hit and an earlier one waits on the disk or
NFS; Content-Length always; Content-Type by the name's extension; no
Date header (virtual time has no calendar). Errors: 400 malformed request
line, headers, percent escapes, dot segments, NUL or an encoded '/' in a
component, or a head past HEAD_MAX (the connection closes after a 400);
404 no such file; 405 (Allow: GET, HEAD) for the other standard methods
(POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE: known, not allowed on a
file, RFC 9110 §15.5.6), and a request with a body of one of them is
answered and the connection closed (the body is never read); 501 for any
other well-formed method token (RFC 9110 §15.6.2; methods are
case-sensitive, so "get" is one); 414 a target past URI_MAX; 505 an HTTP version other than 1.0 and 1.1; 502/504 when NFS
fails. The path never leaves the root: after decoding, any "." or ".."
component is refused, never resolved.

/spin/ and /spin/threads, /spin/domains, /spin/events, /spin/heap,
/spin/cache are the kernel's own state, from Inspect, as HTML5 -- seed
000's "commands that show the running SPIN OS". Counters are top-level
names (hits_memory, hits_disk, hits_nfs, misses, bytes_*, requests, errors_4xx):
hits_* count the requests answered from each level, so requests coalesced
onto one disk or NFS fetch are each a hit; bytes_memory is the bytes
answered from memory, bytes_disk and bytes_nfs the bytes actually read from
that level, once per fetch. ANSWERS names the counters that divide
``requests`` by how each was answered: every request is in exactly one,
once answered (the rest are still waiting on the disk or NFS).
"""

from spin import NFS, TCP, Console, Files, Inspect

PORT = 80
ADDRESS = "10.0.0.1"  # this host's (the web server host's): the status pages say whose counters they show
CLOCK_MHZ = 133  # the emulated Alpha's clock: virtual cycles per virtual µs (kernel/core/costs.py)
NFS_SERVER = "10.0.0.2"
POLICY = "hybrid"  # "hybrid" | "lru" | "none"
CACHE_BYTES = 262144
SMALL_LIMIT = 32768  # hybrid: files larger than this are never cached in memory
HEAD_MAX = 8192  # bytes of request line and headers together
URI_MAX = 2048  # characters of a request target
HEADERS_MAX = 64  # header fields in one request
PIPELINE_MAX = 16  # requests taken from one connection per handler call (then conn.Again(): the rest at the next)
SEND_AHEAD = 262144  # bytes of responses queued on one connection before the next waits for the queue to drain
READ_CHUNK = 65536  # bytes one Files.Read asks for
READS_MAX = 12  # Files.Reads at the disk at once
NFS_MAX = 12  # NFS.Reads unanswered at once
INDEX = "index.html"
SERVER = "SPIN-Workbench"
VERSION = "HTTP/1.1"  # the status line's version for 1.0 requests too: a server sends its own (RFC 9110 §6.2)

# What NFS.Read's handler gets instead of bytes: -errno, Alpha's values (kernel/fs/nfs_client.py)
ENOENT = 2  # no such file
EISDIR = 21  # a directory, not a file
EFBIG = 27  # larger than NFS.Read fetches
ETIMEDOUT = 60  # the server did not answer

hits_memory = 0
hits_disk = 0
hits_nfs = 0
misses = 0
bytes_memory = 0
bytes_disk = 0
bytes_nfs = 0
requests = 0
errors_4xx = 0
errors_5xx = 0
status_pages = 0  # /spin/ pages answered
bad_requests = 0  # 400 and 414: malformed, or past a size limit
bad_methods = 0  # 405 and 501: a method other than GET and HEAD
bad_versions = 0  # 505
nfs_failures = 0  # 502 and 504: NFS failed or did not answer
connections = 0
cache_used = 0
evictions = 0

TYPES = {
    "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "txt": "text/plain; charset=utf-8",
    "css": "text/css", "js": "text/javascript", "json": "application/json", "png": "image/png",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
    "pdf": "application/pdf", "bin": "application/octet-stream",
}  # fmt: skip
REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 414: "URI Too Long",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}  # fmt: skip
TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEX = "0123456789abcdefABCDEF"
PAGES = ("threads", "domains", "events", "heap", "cache")
STANDARD = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")  # known methods: 405, others 501
# How a request was answered: (counter, what it counts); each answered request is in exactly one
ANSWERS = (
    ("hits_memory", "from memory"), ("hits_disk", "from the disk"), ("hits_nfs", "from NFS"),
    ("misses", "not found (404)"), ("status_pages", "status pages"),
    ("bad_requests", "bad requests (400, 414)"), ("bad_methods", "methods not served (405, 501)"),
    ("bad_versions", "versions not served (505)"), ("nfs_failures", "NFS failures (502, 504)"),
)  # fmt: skip

cache = {}  # name -> tuple of bytes parts, least recently used first (dict order)
conns = {}  # connection id -> its state
waiting = {}  # name -> requests waiting for it (coalesced: one fetch serves them all)


# --- the memory level ---------------------------------------------------------------------------


def cache_get(name):
    """The cached parts of ``name`` (now the most recently used), or None."""
    parts = cache.pop(name, None)
    if parts is not None:
        cache[name] = parts
    return parts


def cache_put(name, parts, size):
    """Keep ``name`` if the policy says so, evicting the least recently used."""
    global cache_used, evictions
    if POLICY == "none" or size > CACHE_BYTES or name in cache:
        return
    if POLICY == "hybrid" and size > SMALL_LIMIT:
        return
    while cache and cache_used + size > CACHE_BYTES:
        old = next(iter(cache))
        cache_used -= sizeof(cache.pop(old))
        evictions += 1
    cache[name] = parts
    cache_used += size


def sizeof(parts):
    n = 0
    for p in parts:
        n += len(p)
    return n


# --- HTTP parsing -------------------------------------------------------------------------------


class Request:
    def __init__(self):
        self.method = ""
        self.target = ""
        self.version = "HTTP/1.1"
        self.headers = {}
        self.keep = True
        self.status = 0  # nonzero: the parse failed with this status


def is_token(s):
    if not s:
        return False
    for c in s:
        if c not in TOKEN:
            return False
    return True


def find_end(buf):
    """(end of the head, start of what follows) or (-1, -1) if it is not all here."""
    a = buf.find(b"\r\n\r\n")
    b = buf.find(b"\n\n")
    if a < 0 and b < 0:
        return (-1, -1)
    if b < 0 or (a >= 0 and a + 1 < b):
        return (a, a + 4)
    return (b, b + 2)


def parse_head(head):
    """A Request from the bytes before the empty line (RFC 9112 §2-§5)."""
    r = Request()
    try:
        text = head.decode("latin-1")
    except ValueError:
        r.status = 400
        return r
    lines = text.split("\n")
    for i in range(len(lines)):
        line = lines[i]
        if line.endswith("\r"):
            line = line[:-1]
        if "\r" in line or "\x00" in line:  # a bare CR (RFC 9112 §2.2) or a NUL
            r.status = 400
            return r
        lines[i] = line
    first = lines[0]
    parts = first.split(" ")
    if len(parts) != 3:
        r.status = 414 if len(first) > URI_MAX + 32 else 400
        return r
    method, target, version = parts[0], parts[1], parts[2]
    if not is_token(method):
        r.status = 400
        return r
    if len(target) > URI_MAX:
        r.status = 414
        return r
    if not (len(version) == 8 and version.startswith("HTTP/") and version[5].isdigit() and version[6] == "."
            and version[7].isdigit()):  # fmt: skip
        r.status = 400
        return r
    r.method, r.target, r.version = method, target, version
    if version != "HTTP/1.1" and version != "HTTP/1.0":
        r.version = "HTTP/1.1"
        r.status = 505
        return r
    if len(lines) - 1 > HEADERS_MAX:
        r.status = 400
        return r
    for line in lines[1:]:
        colon = line.find(":")
        if colon <= 0 or line[0] == " " or line[0] == "\t":  # no name, or obs-fold (RFC 9112 §5.2)
            r.status = 400
            return r
        name = line[:colon]
        if not is_token(name):  # includes whitespace before the colon (RFC 9112 §5.1)
            r.status = 400
            return r
        value = line[colon + 1 :].strip(" \t")
        for c in value:
            if c < " " and c != "\t" or c == "\x7f":
                r.status = 400
                return r
        key = name.lower()
        if key in r.headers:
            if key == "host" or key == "content-length":
                r.status = 400
                return r
            r.headers[key] = r.headers[key] + ", " + value
        else:
            r.headers[key] = value
    if version == "HTTP/1.1" and "host" not in r.headers:  # RFC 9112 §3.2
        r.status = 400
        return r
    length = r.headers.get("content-length", "0")
    if not length.isdigit() or len(length) > 9:
        r.status = 400
        return r
    body = "transfer-encoding" in r.headers or int(length) != 0
    if body and (method == "GET" or method == "HEAD"):  # no request bodies here
        r.status = 400
        return r
    tokens = [t.strip(" \t").lower() for t in r.headers.get("connection", "").split(",")]
    if version == "HTTP/1.1":
        r.keep = "close" not in tokens
    else:
        r.keep = "keep-alive" in tokens
    if body:  # a method we refuse: answer it, then close rather than read a body we will not use
        r.keep = False
    return r


def decode_path(target):
    """The file name a target names, or an int status: 400 for what is not a
    clean path under the root. "" is the root itself."""
    if target.startswith("http://") or target.startswith("https://"):  # absolute-form (RFC 9112 §3.2.2)
        slash = target.find("/", target.find("//") + 2)
        target = "/" if slash < 0 else target[slash:]
    if not target.startswith("/"):
        return 400
    q = target.find("?")
    if q >= 0:
        target = target[:q]
    if "#" in target:
        return 400
    directory = target.endswith("/")
    comps = target[1:].split("/")
    if directory:
        comps = comps[:-1]
    names = []
    for comp in comps:
        raw = bytearray()
        i = 0
        n = len(comp)
        while i < n:
            c = comp[i]
            if c == "%":
                if i + 2 >= n:
                    return 400
                h1, h2 = comp[i + 1], comp[i + 2]
                if h1 not in HEX or h2 not in HEX:
                    return 400
                raw.append(int(h1 + h2, 16))
                i += 3
            else:
                o = ord(c)
                if o > 255:
                    return 400
                raw.append(o)
                i += 1
        try:
            name = bytes(raw).decode("utf-8")
        except ValueError:
            return 400
        if name == "" or name == "." or name == ".." or "/" in name or "\\" in name:
            return 400
        for c in name:
            if c < " " or c == "\x7f":
                return 400
        names.append(name)
    path = "/".join(names)
    if directory:
        path = path + "/" + INDEX if path else INDEX
    return path


def content_type(name):
    dot = name.rfind(".")
    slash = name.rfind("/")
    if dot <= slash:
        return TYPES["bin"]
    return TYPES.get(name[dot + 1 :].lower(), TYPES["bin"])


# --- responses ----------------------------------------------------------------------------------


def head_bytes(r, status, ctype, length, extra):
    keep = r.keep and status != 400
    lines = [f"{VERSION} {status} {REASONS.get(status, 'Error')}", f"Server: {SERVER}"]
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {length}")
    for h in extra:
        lines.append(h)
    if not keep:
        lines.append("Connection: close")
    elif r.version == "HTTP/1.0":
        lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(slot, r, status, ctype, parts, extra):
    """Fill a response slot: the head, and the body unless the request was HEAD."""
    global errors_4xx, errors_5xx
    if 400 <= status < 500:
        errors_4xx += 1
    elif status >= 500:
        errors_5xx += 1
    length = sizeof(parts)
    out = [head_bytes(r, status, ctype, length, extra)]
    if r.method != "HEAD":
        for p in parts:
            out.append(p)
    slot["parts"] = out
    slot["close"] = not r.keep or status == 400
    slot["ready"] = True


def error(slot, r, status):
    global bad_requests, bad_methods, bad_versions, nfs_failures
    if status == 400 or status == 414:
        bad_requests += 1
    elif status == 405 or status == 501:
        bad_methods += 1
    elif status == 505:
        bad_versions += 1
    elif status == 502 or status == 504:
        nfs_failures += 1
    extra = ["Allow: GET, HEAD"] if status == 405 else []
    body = f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{status} {REASONS.get(status, "Error")}</title></head><body><h1>{status} {REASONS.get(status, "Error")}</h1></body></html>\n'
    respond(slot, r, status, "text/html; charset=utf-8", [body.encode("latin-1")], extra)


def flush(conn, st):
    """Send the responses that are ready, in request order; past SEND_AHEAD
    bytes queued on the connection, the rest wait until the queue drains (the
    kernel calls the handler then), so pipelined large files do not pass the
    kernel's bound on what an extension has queued."""
    q = st["queue"]
    while q and q[0]["ready"]:
        if not conn.Closed() and conn.Pending() > 0 and conn.Pending() + sizeof(q[0]["parts"]) > SEND_AHEAD:
            return
        slot = q.pop(0)
        if conn.Closed():
            continue
        try:
            for p in slot["parts"]:
                conn.Send(p)
        except Exception:  # over the kernel's queue bound: give up on this connection
            conn.Abort()
            return
        if slot["close"]:
            conn.Close()
            st["closing"] = True
    if not q and st["eof"] and not conn.Closed():  # the peer is done and everything it asked for is sent
        conn.Close()


def complete(name, parts, level, status):
    """A fetch finished at ``level``: answer everyone waiting for ``name``
    (each a hit at that level; the bytes were read once)."""
    global hits_disk, hits_nfs, bytes_disk, bytes_nfs, misses
    size = sizeof(parts) if parts is not None else 0
    if status == 200:
        if level == "disk":
            bytes_disk += size
        else:
            bytes_nfs += size
    for w in waiting.pop(name, []):
        conn, st, slot, r = w[0], w[1], w[2], w[3]
        if status == 200:
            if level == "disk":
                hits_disk += 1
            else:
                hits_nfs += 1
            respond(slot, r, 200, content_type(name), parts, [])
        elif status == 404:
            misses += 1
            error(slot, r, 404)
        else:
            error(slot, r, status)
        flush(conn, st)
    if status == 200:
        cache_put(name, parts, size)


# --- the disk and NFS levels ---------------------------------------------------------------------

reads = {}  # name -> [size, {offset: data}] for a Files.Read in progress
read_queue = []  # (name, offset, n) not yet asked of the disk
reads_out = 0
nfs_queue = []  # names not yet asked of NFS
nfs_out = 0


def from_disk(name):
    """Start reading ``name`` from the local extent disk; False if it is not there."""
    size = Files.Size(name)
    if size < 0:
        return False
    reads[name] = [size, {}]
    if size == 0:
        del reads[name]
        complete(name, (), "disk", 200)
        return True
    off = 0
    while off < size:
        read_queue.append((name, off, min(READ_CHUNK, size - off)))
        off += READ_CHUNK
    start_reads()
    return True


def start_reads():
    """Keep at most READS_MAX Files.Reads at the disk (the kernel bounds an extension's)."""
    global reads_out
    while read_queue and reads_out < READS_MAX:
        name, off, n = read_queue.pop(0)
        if name not in reads:
            continue
        reads_out += 1
        try:
            Files.Read(name, off, n, disk_done)
        except Exception:
            reads_out -= 1
            del reads[name]
            from_nfs(name)


def disk_done(name, offset, data):
    """Files.Read's completion: when every chunk is in, answer; a failed read goes to NFS."""
    global reads_out
    reads_out -= 1
    start_reads()
    st = reads.get(name)
    if st is None:
        return
    if not isinstance(data, bytes):
        del reads[name]
        from_nfs(name)
        return
    st[1][offset] = data
    if sizeof(st[1].values()) < st[0]:
        return
    del reads[name]
    parts = tuple(st[1][k] for k in sorted(st[1]))
    complete(name, parts, "disk", 200)


def from_nfs(name):
    nfs_queue.append(name)
    start_nfs()


def start_nfs():
    """Keep at most NFS_MAX NFS.Reads unanswered (the kernel bounds an extension's)."""
    global nfs_out
    while nfs_queue and nfs_out < NFS_MAX:
        name = nfs_queue.pop(0)
        nfs_out += 1
        try:
            NFS.Read(NFS_SERVER, name, nfs_done)
        except Exception:
            nfs_out -= 1
            complete(name, None, "nfs", 502)


def nfs_done(path, data):
    global nfs_out
    nfs_out -= 1
    start_nfs()
    if isinstance(data, bytes):
        complete(path, (data,), "nfs", 200)
    elif data == -ENOENT or data == -EISDIR or data == -EFBIG:  # not a file we serve
        complete(path, None, "nfs", 404)
    elif data == -ETIMEDOUT:
        complete(path, None, "nfs", 504)
    else:
        complete(path, None, "nfs", 502)


def serve_file(conn, st, slot, r, name):
    global hits_memory, bytes_memory
    parts = cache_get(name)
    if parts is not None:
        hits_memory += 1
        bytes_memory += sizeof(parts)
        respond(slot, r, 200, content_type(name), parts, [])
        return
    w = (conn, st, slot, r)
    if name in waiting:
        waiting[name].append(w)
        return
    waiting[name] = [w]
    if not from_disk(name):
        from_nfs(name)


# --- the status pages -----------------------------------------------------------------------------


COUNTERS = {
    "cycles": "virtual cycles of the emulated Alpha since boot",
    "instructions": "guest Alpha instructions executed: user programs (the kernel and this extension are not guest code)",
    "crossings": "user/kernel crossings: entries plus returns",
    "syscalls": "system calls from user programs",
    "faults": "memory faults",
    "switches": "strand switches",
    "ticks": "clock interrupts",
    "copies": "copies of packet data",
    "free_frames": "physical frames free",
    "frames": "physical frames",
    "forwarded": "packets forwarded",
    "busy": "cycles not run by the idle strand",
    "file_hits": "extent-FS reads answered from the buffer cache",
}  # what each of Inspect.Counters() is (kernel/inspect.py's Counters)
LABELS = {"blocked_on": "blocked on", "us": "virtual µs run", "free_frames": "free frames"}


def text(v):
    """A cell's text: a sequence as comma-separated items ("—" if empty), a float to one place."""
    if isinstance(v, tuple) or isinstance(v, list) or isinstance(v, set) or isinstance(v, frozenset):
        items = [str(x) for x in v]
        if isinstance(v, set) or isinstance(v, frozenset):
            items = sorted(items)
        return ", ".join(items) if items else "\u2014"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


def esc(v):
    s = text(v)
    if len(s) > 300:
        s = s[:300] + "..."
    return (
        s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")
    )


def page(title, intro, cols, rows):
    """An HTML5 page: a doctype, a charset, a title, links to the others, one table."""
    out = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>SPIN: ", esc(title),
           "</title></head><body><h1>", esc(title), "</h1><p>"]  # fmt: skip
    out.append(" | ".join(['<a href="/spin/">index</a>'] + [f'<a href="/spin/{p}">{p}</a>' for p in PAGES]))
    out.append("</p><p>" + esc(intro) + "</p><table><thead><tr>")
    for c in cols:
        out.append("<th>" + esc(LABELS.get(c, c)) + "</th>")
    out.append("</tr></thead><tbody>")
    total = 0
    shown = 0
    for row in rows:
        cells = "".join(["<td>" + esc(row.get(c, "")) + "</td>" for c in cols])
        total += len(cells)
        if total > 40000:
            break
        out.append("<tr>" + cells + "</tr>")
        shown += 1
    out.append("</tbody></table>")
    if shown < len(rows):
        out.append(f"<p>{len(rows) - shown} more rows not shown</p>")
    out.append("</body></html>\n")
    return "".join(out).encode("utf-8")


def status_page(which):
    if which == "threads":
        rows = Inspect.Threads()
        return page(
            "threads",
            f"{len(rows)} strands",
            ("id", "name", "owner", "kind", "state", "priority", "blocked_on", "us"),
            rows,
        )
    if which == "domains":
        rows = Inspect.Domains()
        return page(
            "domains", f"{len(rows)} domains", ("name", "kind", "rights", "exports", "bindings", "authority"), rows
        )
    if which == "events":
        rows = Inspect.Events()
        return page("events", f"{len(rows)} events", ("name", "bindings", "calls", "path"), rows)
    if which == "heap":
        h = Inspect.Heap()
        intro = f"{h['free_frames']} of {h['frames']} frames free ({h['page_bytes']} bytes each)"
        return page("heap", intro, ("owner", "kind", "pages", "bytes", "objects"), h["memory"])
    if which == "cache":
        nbytes = {"hits_memory": bytes_memory, "hits_disk": bytes_disk, "hits_nfs": bytes_nfs}
        counts = {"hits_memory": hits_memory, "hits_disk": hits_disk, "hits_nfs": hits_nfs, "misses": misses,
                  "status_pages": status_pages, "bad_requests": bad_requests, "bad_methods": bad_methods,
                  "bad_versions": bad_versions, "nfs_failures": nfs_failures}  # fmt: skip
        rows = []
        answered = 0
        for item in ANSWERS:
            n = counts[item[0]]
            answered += n
            rows.append({"answered": item[1], "requests": n, "bytes": nbytes.get(item[0], "")})
        rows.append({"answered": "not yet (waiting on the disk or NFS)", "requests": requests - answered, "bytes": ""})
        rows.append({"answered": "all", "requests": requests, "bytes": ""})
        intro = (
            f"policy {POLICY}; {len(cache)} files, {cache_used} of {CACHE_BYTES} bytes cached; small limit "
            f"{SMALL_LIMIT}; {evictions} evictions; {requests} requests, {errors_4xx} 4xx, {errors_5xx} 5xx. "
            "Each request is counted once, by how it was answered (requests waiting for the same file share "
            "one read); bytes: answered from memory, read from the disk or NFS (once per read)"
        )
        return page("cache", intro, ("answered", "requests", "bytes"), rows)
    c = Inspect.Counters()
    rows = [{"name": k, "value": c[k], "meaning": COUNTERS.get(k, "")} for k in sorted(c)]
    cycles = c.get("cycles", 0)
    intro = (
        f"the kernel's counters on the web server host ({ADDRESS}), the host this extension runs on: "
        f"{cycles:,} virtual cycles at {CLOCK_MHZ} MHz are {cycles / (CLOCK_MHZ * 1e6):,.3f} virtual seconds "
        "since boot; the pages below show the running system"
    )
    return page("SPIN web server", intro, ("name", "value", "meaning"), rows)


# --- connections ---------------------------------------------------------------------------------


def handle(conn, st, r):
    """One parsed request into its slot (or a wait for the disk or NFS)."""
    global requests, status_pages
    requests += 1
    slot = {"ready": False, "parts": [], "close": False}
    st["queue"].append(slot)
    if r.status:
        error(slot, r, r.status)
    elif r.method != "GET" and r.method != "HEAD":
        error(slot, r, 405 if r.method in STANDARD else 501)
    else:
        name = decode_path(r.target)
        if isinstance(name, int):
            error(slot, r, name)
        elif name == "spin" or name == "spin/" + INDEX or (name.startswith("spin/") and name[5:] in PAGES):
            which = "" if name == "spin" or name == "spin/" + INDEX else name[5:]
            status_pages += 1
            respond(slot, r, 200, "text/html; charset=utf-8", [status_page(which)], [])
        else:
            serve_file(conn, st, slot, r, name)
    if slot["ready"] and slot["close"] or not r.keep:
        st["closing"] = True


def on_conn(conn):
    """TCP.Listen's handler: read what came, answer the whole requests in it."""
    global connections
    cid = conn.Id()
    st = conns.get(cid)
    if st is None:
        if conn.Closed():
            return
        st = {"buf": b"", "queue": [], "closing": False, "eof": False}
        conns[cid] = st
        connections += 1
    taken = 0
    while not st["closing"] and taken < PIPELINE_MAX:
        buf = st["buf"]
        while buf[:2] == b"\r\n":  # RFC 9112 §2.2: empty lines before a request line are ignored
            buf = buf[2:]
        end, rest = find_end(buf)
        if end < 0:
            if len(buf) > HEAD_MAX:
                r = Request()
                nl = buf.find(b"\n")
                r.status = 414 if nl < 0 or nl > URI_MAX else 400
                r.keep = False  # the head never ended: nothing after it can be found
                handle(conn, st, r)
                break
            more = conn.Recv(HEAD_MAX + 1 - len(buf) + 2)
            if not more:
                st["buf"] = buf
                if more == b"":
                    st["eof"] = True
                break
            st["buf"] = buf + more
            continue
        if end > HEAD_MAX:
            r = Request()
            r.status = 400
        else:
            r = parse_head(buf[:end])
        st["buf"] = buf[rest:]
        handle(conn, st, r)
        taken += 1
    if taken >= PIPELINE_MAX and not st["closing"]:
        conn.Again()  # more may be buffered, and no news will come for it: the kernel calls again
    flush(conn, st)
    if conn.Closed() and not st["queue"]:
        conns.pop(cid, None)


def init():
    TCP.Listen(PORT, on_conn)
    Console.Print(f"web_server: HTTP on port {PORT}, policy {POLICY}, cache {CACHE_BYTES} bytes, NFS {NFS_SERVER}")
