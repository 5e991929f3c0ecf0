"""The web world's settings (kernel/net/webworld.py re-exports them): a module
of its own so that `spinwb web --help` can name them without building a network.

They are the web server extension's settings, passed to it at load (its top-level
values say the same, as documentation; tests/web_bench/test_bench_web.py checks
they agree): this module is their one source."""

from __future__ import annotations

PORT = 80
SMALL_LIMIT = 32768  # hybrid: larger files are never cached in memory; files up to it go on the web host's disk
CACHE_BYTES = 262144  # the extension's memory cache
WEB, FILES, CLIENT = 0, 1, 2  # the hosts' indices
SERVERS = ("extension", "unix")
POLICIES = ("hybrid", "lru", "none")
