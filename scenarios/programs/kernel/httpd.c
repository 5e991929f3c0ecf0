/* The UNIX-way web server of SOSP'95 §5.4: "a user-level server on DEC
   OSF/1 relying on the OS's caching file system". It is the comparison for
   the SPIN web server extension (extensions/web_server.py): every request
   crosses the user/kernel boundary for accept, read of the request, open,
   lseek (the size), read of the file (a copy out of the buffer cache into
   this process), write to the socket (a copy back into the kernel) and close.

   One process, one connection at a time (sequential: a keep-alive client
   holds the server until it closes or sends "Connection: close").
   HTTP/1.0 and 1.1 (RFC 9112), GET and HEAD, Content-Length, Content-Type by
   extension, keep-alive by default for 1.1; percent-decoded paths; 400 for a
   malformed request, a bad escape, NUL or a ".." component; 404, 405 (with
   Allow), 414 for a request line over LINE_MAX bytes.

   Usage: httpd [PORT [ROOT]]  -- PORT 80 by default; ROOT is prefixed to the
   path (empty on SPIN, whose extent file system is the whole disk; a host
   directory under qemu-alpha). It prints one line when it listens. */
#include "net.h"

#define REQ_MAX 8192  /* a request's head: bytes we buffer before giving up (400) */
#define LINE_MAX 2048 /* the request line (414 above it) */
#define PATH_MAX 512
#define CHUNK 8192 /* one read() of the file, one write() to the socket */

static char req[REQ_MAX];
static long have;          /* bytes in req */
static char body[CHUNK];
static char root[256];

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Does s (n bytes) start with the lower-case word w, case-insensitively? */
static int starts(const char *s, long n, const char *w)
{
	long i = 0;
	for (; w[i]; i++)
		if (i >= n || lower((unsigned char)s[i]) != w[i])
			return 0;
	return 1;
}

/* Does the comma-separated list v (n bytes) hold the token t? */
static int has_token(const char *v, long n, const char *t)
{
	long i = 0, tl = (long)strlen(t);
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		long j = i;
		while (j < n && v[j] != ',')
			j++;
		long e = j;
		while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - i == tl && starts(v + i, e - i, t))
			return 1;
		i = j;
	}
	return 0;
}

static long write_all(int fd, const char *buf, long n)
{
	while (n > 0) {
		long r = write(fd, buf, (size_t)n);
		if (r <= 0)
			return r < 0 ? r : -1;
		buf += r;
		n -= r;
	}
	return 0;
}

static const char *content_type(const char *path)
{
	const char *dot = 0;
	for (const char *p = path; *p; p++)
		if (*p == '.')
			dot = p + 1;
		else if (*p == '/')
			dot = 0;
	static const char *const types[][2] = {
		{"html", "text/html"}, {"htm", "text/html"}, {"txt", "text/plain"}, {"css", "text/css"},
		{"js", "application/javascript"}, {"json", "application/json"}, {"png", "image/png"},
		{"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"svg", "image/svg+xml"},
		{"pdf", "application/pdf"}, {"svf", "application/octet-stream"},
	};
	if (dot)
		for (unsigned i = 0; i < sizeof types / sizeof types[0]; i++) {
			const char *a = dot, *b = types[i][0];
			while (*a && lower((unsigned char)*a) == *b)
				a++, b++;
			if (!*a && !*b)
				return types[i][1];
		}
	return "application/octet-stream";
}

/* A short HTML error page; 0, or <0 if the client went away. */
static long error(int fd, int code, const char *why, int keep, int v11)
{
	static char head[512], page[256];
	int n = snprintf(page, sizeof page, "<html><body><h1>%d %s</h1></body></html>\n", code, why);
	int h = snprintf(head, sizeof head,
			 "HTTP/1.%d %d %s\r\nServer: httpd (UNIX way)\r\nContent-Type: text/html\r\n"
			 "Content-Length: %d\r\n%s%s\r\n",
			 v11, code, why, n, code == 405 ? "Allow: GET, HEAD\r\n" : "",
			 keep ? (v11 ? "" : "Connection: keep-alive\r\n") : "Connection: close\r\n");
	long r = write_all(fd, head, h);
	return r < 0 ? r : write_all(fd, page, n);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode the target (n bytes) into out as a path under root: 0, or the
   status to answer (400 bad escape/NUL/".."/empty component, 414 too long). */
static int decode(const char *t, long n, char *out)
{
	long o = (long)strlen(root), q = 0;
	while (q < n && t[q] != '?')
		q++;
	n = q; /* the query is not part of the name */
	if (n == 0 || t[0] != '/')
		return 400;
	memcpy(out, root, (size_t)o);
	for (long i = 0; i < n; i++) {
		int c = (unsigned char)t[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval((unsigned char)t[i + 1]) : -1;
			int lo = i + 2 < n ? hexval((unsigned char)t[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return 400;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0)
			return 400;
		if (o >= PATH_MAX - 16)
			return 414;
		out[o++] = (char)c;
	}
	out[o] = 0;
	/* components: no "..", no "." and no empty ones except a trailing '/' */
	char *p = out + strlen(root);
	for (char *s = p + 1;;) {
		char *e = s;
		while (*e && *e != '/')
			e++;
		long len = e - s;
		if ((len == 2 && s[0] == '.' && s[1] == '.') || (len == 1 && s[0] == '.'))
			return 400;
		if (len == 0 && *e == '/')
			return 400;
		if (!*e)
			break;
		s = e + 1;
	}
	if (out[o - 1] == '/') { /* a directory: its index */
		strcpy(out + o, "index.html");
	}
	return 0;
}

/* Serve one request whose head is req[0..end); 1 to keep the connection,
   0 to close it. */
static int serve(int fd, long end)
{
	static char path[PATH_MAX], head[512];
	long line = 0;
	while (line < end && req[line] != '\r' && req[line] != '\n')
		line++;
	/* request line: METHOD SP TARGET SP HTTP/1.x */
	long sp1 = 0;
	while (sp1 < line && req[sp1] != ' ')
		sp1++;
	long sp2 = sp1 + 1;
	while (sp2 < line && req[sp2] != ' ')
		sp2++;
	if (sp1 == 0 || sp1 >= line || sp2 >= line || sp2 == sp1 + 1) {
		error(fd, 400, "Bad Request", 0, 0);
		return 0;
	}
	const char *ver = req + sp2 + 1;
	long vlen = line - sp2 - 1;
	int v11;
	if (vlen == 8 && memcmp(ver, "HTTP/1.1", 8) == 0)
		v11 = 1;
	else if (vlen == 8 && memcmp(ver, "HTTP/1.0", 8) == 0)
		v11 = 0;
	else {
		error(fd, 400, "Bad Request", 0, 0);
		return 0;
	}
	/* headers */
	int keep = v11, host = 0, framed_body = 0;
	long i = line;
	while (i < end) {
		if (req[i] == '\r')
			i++;
		if (i < end && req[i] == '\n')
			i++;
		long e = i;
		while (e < end && req[e] != '\r' && req[e] != '\n')
			e++;
		if (e == i)
			break;
		long colon = i;
		while (colon < e && req[colon] != ':')
			colon++;
		if (colon == e || colon == i || req[i] == ' ' || req[i] == '\t') {
			error(fd, 400, "Bad Request", 0, v11);
			return 0;
		}
		const char *v = req + colon + 1;
		long vn = e - colon - 1;
		if (colon - i == 10 && starts(req + i, 10, "connection")) {
			if (has_token(v, vn, "close"))
				keep = 0;
			else if (has_token(v, vn, "keep-alive"))
				keep = 1;
		} else if (colon - i == 4 && starts(req + i, 4, "host"))
			host = 1;
		else if (colon - i == 17 && starts(req + i, 17, "transfer-encoding"))
			framed_body = 1;
		else if (colon - i == 14 && starts(req + i, 14, "content-length")) {
			for (long j = 0; j < vn; j++)
				if (v[j] >= '1' && v[j] <= '9')
					framed_body = 1;
		}
		i = e;
	}
	if (v11 && !host) { /* RFC 9112 §3.2: a 1.1 request without Host is a 400 */
		error(fd, 400, "Bad Request", 0, v11);
		return 0;
	}
	if (framed_body) /* we do not read request bodies: answer, then close */
		keep = 0;
	int head_only = sp1 == 4 && memcmp(req, "HEAD", 4) == 0;
	if (!(sp1 == 3 && memcmp(req, "GET", 3) == 0) && !head_only) {
		error(fd, 405, "Method Not Allowed", 0, v11);
		return 0;
	}
	int bad = decode(req + sp1 + 1, sp2 - sp1 - 1, path);
	if (bad) {
		error(fd, bad, bad == 414 ? "URI Too Long" : "Bad Request", 0, v11);
		return 0;
	}
	int f = open(path, 0);
	long size = f < 0 ? -1 : lseek(f, 0, 2);
	if (f >= 0 && (size < 0 || lseek(f, 0, 0) != 0)) {
		close(f);
		f = -1;
	}
	if (f < 0)
		return error(fd, 404, "Not Found", keep, v11) < 0 ? 0 : keep;
	int h = snprintf(head, sizeof head,
			 "HTTP/1.%d 200 OK\r\nServer: httpd (UNIX way)\r\nContent-Type: %s\r\n"
			 "Content-Length: %ld\r\n%s\r\n",
			 v11, content_type(path), size,
			 keep ? (v11 ? "" : "Connection: keep-alive\r\n") : "Connection: close\r\n");
	if (write_all(fd, head, h) < 0) {
		close(f);
		return 0;
	}
	long sent = 0;
	while (!head_only && sent < size) {
		long r = read(f, body, CHUNK); /* the copy out of the buffer cache */
		if (r <= 0)
			break;
		if (write_all(fd, body, r) < 0) /* and the copy back into the kernel */
			break;
		sent += r;
	}
	close(f);
	return head_only || sent == size ? keep : 0; /* a short body: the framing is lost */
}

/* Where the head of the request in req ends (just past the blank line), or 0. */
static long head_end(void)
{
	for (long i = 0; i + 1 < have; i++) {
		if (req[i] == '\n' && req[i + 1] == '\n')
			return i + 2;
		if (i + 3 < have && req[i] == '\r' && req[i + 1] == '\n' && req[i + 2] == '\r' && req[i + 3] == '\n')
			return i + 4;
	}
	return 0;
}

static void connection(int fd)
{
	have = 0;
	for (;;) {
		long end;
		while (!(end = head_end())) {
			long line = 0;
			while (line < have && req[line] != '\n')
				line++;
			if (line > LINE_MAX) {
				error(fd, 414, "URI Too Long", 0, 0);
				return;
			}
			if (have == REQ_MAX) {
				error(fd, 400, "Bad Request", 0, 0);
				return;
			}
			long r = read(fd, req + have, (size_t)(REQ_MAX - have));
			if (r <= 0)
				return; /* closed (or reset) before a whole request */
			have += r;
		}
		long line = 0;
		while (line < end && req[line] != '\n')
			line++;
		if (line > LINE_MAX) {
			error(fd, 414, "URI Too Long", 0, 0);
			return;
		}
		int keep = serve(fd, end);
		if (!keep)
			return;
		memmove(req, req + end, (size_t)(have - end)); /* a pipelined request may follow */
		have -= end;
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? (int)atol(argv[1]) : 80;
	if (argc > 2 && strlen(argv[2]) < sizeof root - 1) {
		strcpy(root, argv[2]);
		long n = (long)strlen(root);
		if (n && root[n - 1] == '/')
			root[n - 1] = 0;
	}
	struct sockaddr_in me, peer;
	long lfd = socket(AF_INET, SOCK_STREAM, 0);
	sockaddr(&me, 0, port);
	if (lfd < 0 || bind((int)lfd, &me) < 0 || listen((int)lfd, 8) < 0) {
		printf("httpd: cannot listen on port %d\n", port);
		return 1;
	}
	printf("httpd: listening on port %d\n", port);
	for (;;) {
		long fd = accept((int)lfd, &peer);
		if (fd < 0)
			continue;
		connection((int)fd);
		close((int)fd);
	}
}
