"""The native tier: hot regions of guest code compiled to WebAssembly and run
by wasmtime (Cranelift), beside the Python translator (docs/native-tier.md).

``lower`` turns a region's Alpha code into a small IR, ``wasm`` prints it as
WebAssembly text and runs it on the machine's own memory, and ``tier`` drives
entries and exits from the translator's run loop. wasmtime is imported only
when a region first gets hot; without it (or with ``SPINWB_NATIVE=0``) the
Python translator is the only tier, on the same memory.
"""

from __future__ import annotations

import os

HOT = 200  # entries of a region or self-loop before it is compiled natively (3-14 ms each)
# Instructions a CPU runs before the tier may start. Starting it (wasmtime's import and
# engine, the store, the first modules: about 45 ms) costs what the Python translator
# spends on 250,000 or so, so a run shorter than START never pays it and a longer one
# loses at most about this much (ski rental). Most lessons' CPUs run 300-153,000
# instructions (boot_tour 7,527), a few 0.5-20M; bench cpu's workloads about 5M.
START = 160_000


def enabled() -> bool:
    """The tier may be tried: ``SPINWB_NATIVE=0`` turns it off (wasmtime is imported later, when needed)."""
    return os.environ.get("SPINWB_NATIVE", "1") != "0"
