"""Kernel threads with mutexes and condition variables, and the two user-level
C-Threads packages of SOSP'95 Table 3 (issue 5)."""

from __future__ import annotations

import pytest

from kernel.boot import boot
from kernel.core import sync
from kernel.net.topology import Network
from kernel.sys.errors import SpinError
from kernel.sys.trace import Switch
from workbench.bench import threads as bench_threads


def _run_kernel_threads(body) -> list:  # noqa: ANN001
    """Run body(k, log) on a kernel strand of a booted kernel until it ends."""
    k = boot()
    log: list = []
    driver = sync.fork(k.sched, body, k, log, name="driver")
    for _ in range(1000):
        if driver.ended:
            break
        k.run(50_000)
    assert driver.ended and not k.sched.failures, k.sched.failures
    if driver.strand.error is not None:
        raise driver.strand.error
    return log


def test_condition_variables_hand_items_over_in_order() -> None:
    """A bounded buffer of one slot: the consumer sees every item exactly
    once, in order, and the producer blocks while the slot is full."""

    def body(k, log):  # noqa: ANN001, ANN202
        m, nonempty, nonfull = sync.Mutex(k.sched), sync.Condition(k.sched), sync.Condition(k.sched)
        slot: list[int] = []

        def consumer() -> int:
            total = 0
            for _ in range(20):
                with m:
                    while not slot:
                        nonempty.wait(m)
                    v = slot.pop()
                    log.append(("got", v))
                    total += v
                    nonfull.signal()
            return total

        c = sync.fork(k.sched, consumer, name="consumer")
        for i in range(20):
            with m:
                while slot:
                    nonfull.wait(m)
                slot.append(i)
                log.append(("put", i))
                nonempty.signal()
        log.append(("sum", c.join()))

    log = _run_kernel_threads(body)
    assert [v for what, v in log if what == "got"] == list(range(20))
    assert log[-1] == ("sum", sum(range(20)))
    # one slot: a second put never comes before the previous item was taken
    puts = [i for i, (what, _) in enumerate(log) if what == "put"]
    gots = [i for i, (what, _) in enumerate(log) if what == "got"]
    assert all(gots[j] < puts[j + 1] for j in range(19))


def test_mutex_excludes_across_a_yield_and_misuse_is_an_error() -> None:
    def body(k, log):  # noqa: ANN001, ANN202
        m = sync.Mutex(k.sched, "m")

        def worker(name: str) -> None:
            for _ in range(3):
                with m:
                    log.append(f"{name} in")
                    k.sched.yield_()  # the other runs here, and must block on m
                    log.append(f"{name} out")

        a, b = sync.fork(k.sched, worker, "a"), sync.fork(k.sched, worker, "b")
        a.join(), b.join()
        try:
            m.release()
        except SpinError as e:
            log.append(str(e))
        c = sync.Condition(k.sched, "c")
        try:
            c.wait(m)
        except SpinError as e:
            log.append(str(e))

    log = _run_kernel_threads(body)
    pairs = log[:12]
    assert all(pairs[i].split()[0] == pairs[i + 1].split()[0] for i in range(0, 12, 2)), pairs
    assert {p.split()[0] for p in pairs} == {"a", "b"}
    assert "not held" in log[12] and "must be held" in log[13]


@pytest.mark.parametrize("op", ["forkjoin", "pingpong"])
def test_table3_order_and_crossings(op: str) -> None:
    """Kernel threads beat both user packages, integrated beats layered, and
    the crossings say why for Fork-Join: 12 calls' worth layered, 6 integrated.
    The programs check their own results (a join's value, the partner's)."""
    kc = bench_threads.kernel_threads(op, 20)
    lc = bench_threads.user_threads("threads_layered", op, 20)
    ic = bench_threads.user_threads("threads_integrated", op, 20)
    assert 0 < kc.cycles < ic.cycles < lc.cycles
    if op == "forkjoin":
        assert (lc.crossings, ic.crossings) == (12, 6)
    else:
        assert lc.crossings == ic.crossings == 8  # signal and wait on each side: the difference is per call


def test_a_faulting_thread_ends_its_process_with_a_report() -> None:
    """A thread that jumps to address 0: the process ends (SIGSEGV, reported),
    its other threads with it, and the kernel stays up."""
    from machine.alpha.asm import assemble
    from machine.elf import parse_elf

    src = """
        .text
        .globl _start
    _start:
        lda $0, 0x7300($31)      # cthread_fork(pc=0, sp, ...)
        mov $31, $16
        mov $30, $17
        call_pal 0x83
        mov $0, $16              # cthread_join(tid)
        lda $0, 0x7302($31)
        call_pal 0x83
        lda $0, 1($31)           # exit(5): not reached, the thread's fault ends the process
        mov 5, $16
        call_pal 0x83
    """
    k = boot(init=parse_elf(assemble(src)), argv=["t"], halt_when_done=True)
    k.run(5_000_000)
    assert k.exit_status == 128 + 11
    assert any("SIGSEGV" in r for r in k.reports)
    assert not k.user_strands()


def test_an_asynchronous_handler_runs_on_a_booted_kernel_in_a_strand_of_its_own() -> None:
    """SOSP'95 §3.3 / spin-reference.md §1: an asynchronous handler runs in its
    own strand, after the raise returns. The booted kernel has one scheduler,
    so the strand the dispatcher forks is one the kernel runs."""
    net = Network(2)
    a, b = net.hosts
    src = (
        "from spin import UDP, Dispatcher, Console\n"
        "def later(p):\n    Console.Print('async', p.dst_port)\n"
        "def init():\n    Dispatcher.InstallHandler(UDP.PacketArrived, later, Dispatcher.FieldEquals('dst_port', 2500),"
        " asynchronous=True)\n"
    )  # fmt: skip
    b.system.load(src, "async_ext.py", importer="root")
    assert a.net.udp.send(4000, "10.0.0.2", 2500, b"x") == 0
    assert net.run_until(lambda: "async 2500" in b.system.console, 100_000), b.system.console[-3:]
    assert any(r.new_name.startswith("UDP.PacketArrived#") for r in b.trace.of(Switch))  # a strand of its own
    assert not b.sched.failures
