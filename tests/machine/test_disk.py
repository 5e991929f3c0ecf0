"""The SCSI-like disk: DMA, latency in virtual time, completion interrupts,
and clear errors for bad requests and bad images."""

from __future__ import annotations

from pathlib import Path

import pytest

from machine.alpha.asm import assemble
from machine.alpha.constants import KSEG_BASE
from machine.alpha.pal import ENT_INT
from machine.disk import (
    BLOCK,
    BUSY,
    CMD_READ,
    CMD_WRITE,
    DONE,
    E_BUSY,
    E_CMD,
    E_COUNT,
    E_DMA,
    E_RANGE,
    ERROR,
    R_ACK,
    R_BLOCK,
    R_CMD,
    R_COUNT,
    R_DMA,
    R_ERROR,
    R_NBLOCKS,
    R_STATUS,
    DiskImageError,
)
from machine.elf import parse_elf
from machine.machine import Machine

IDLE_KERNEL = """
	.text
_start:	clr	$16
	call_pal 0x35		# swpipl 0
1:	call_pal 0x3e		# wtint
	br	1b
"""


def machine_with_disk(image: bytes) -> tuple[Machine, list[tuple[int, int, int]]]:
    m = Machine(4 << 20)
    m.load_kernel(parse_elf(assemble(IDLE_KERNEL, "idle.s", text_base=KSEG_BASE + 0x10120)))
    disk = m.attach_disk(image)
    assert disk is m.disk
    seen: list[tuple[int, int, int]] = []

    def on_int(pal, entry: int) -> None:  # noqa: ANN001
        seen.append((pal.cpu.r[16], pal.cpu.r[17], pal.cpu.cycles))
        pal.rti()

    m.pal.entries[ENT_INT] = on_int
    m.run(until_cycle=1000)  # into the idle loop at IPL 0
    return m, seen


def pattern(nblocks: int) -> bytes:
    return bytes((i * 7 + i // BLOCK) & 0xFF for i in range(nblocks * BLOCK))


def command(m: Machine, cmd: int, block: int, count: int, pa: int) -> int:
    regs = m.disk.page  # type: ignore[union-attr]
    regs[R_BLOCK], regs[R_COUNT], regs[R_DMA] = block, count, pa
    regs[R_CMD] = cmd
    return m.cpu.cycles


def disk_interrupts(seen: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    return [s for s in seen if s[0] == 3]


def test_read_dmas_blocks_and_interrupts_when_done() -> None:
    image = pattern(4096)
    m, seen = machine_with_disk(image)
    regs = m.disk.page  # type: ignore[union-attr]
    assert regs[R_NBLOCKS] == 4096
    expect = m.disk.service_cycles(2000, 4, m.cpu.cycles)  # type: ignore[union-attr]
    m.disk.cylinder = 0  # type: ignore[union-attr]  # undo the probe's head movement
    started = command(m, CMD_READ, 2000, 4, 0x40000)
    assert regs[R_STATUS] == BUSY
    m.run(until_cycle=started + 10 * expect)
    assert regs[R_STATUS] == DONE
    assert m.memory.read(0x40000, 4 * BLOCK) == image[2000 * BLOCK : 2004 * BLOCK]
    ((kind, vector, when),) = disk_interrupts(seen)
    assert (kind, vector) == (3, 0x800)
    assert started + expect <= when <= started + expect + 200  # delivered at the completion time
    regs[R_ACK] = 1
    assert regs[R_STATUS] == 0


def test_write_goes_from_memory_to_the_disk() -> None:
    m, seen = machine_with_disk(bytes(64 * BLOCK))
    m.memory.write(0x10000, b"SPIN" * 256)
    start = command(m, CMD_WRITE, 3, 2, 0x10000)
    m.run(until_cycle=start + 20_000_000)
    assert m.disk.data[3 * BLOCK : 5 * BLOCK] == b"SPIN" * 256  # type: ignore[union-attr]
    assert len(disk_interrupts(seen)) == 1


def test_latency_follows_seek_distance_and_is_deterministic() -> None:
    m, _ = machine_with_disk(bytes(200_000 * BLOCK))
    disk = m.disk
    assert disk is not None
    near = disk.service_cycles(5, 1, 0)  # same cylinder as the head
    disk.cylinder = 0
    far = disk.service_cycles(199_000, 1, 0)
    disk.cylinder = 0
    assert far > near
    assert disk.service_cycles(199_000, 1, 0) == far  # same inputs, same time


@pytest.mark.parametrize(
    ("cmd", "block", "count", "pa", "error"),
    [
        (CMD_READ, 60, 8, 0x1000, E_RANGE),
        (CMD_READ, 0, 1, 8 << 20, E_DMA),
        (CMD_WRITE, 0, 0, 0x1000, E_COUNT),
        (9, 0, 1, 0x1000, E_CMD),
    ],
)
def test_bad_requests_give_an_error_status(cmd: int, block: int, count: int, pa: int, error: int) -> None:
    m, seen = machine_with_disk(bytes(64 * BLOCK))
    regs = m.disk.page  # type: ignore[union-attr]
    command(m, cmd, block, count, pa)
    m.run(until_cycle=m.cpu.cycles + 1000)
    assert (regs[R_STATUS], regs[R_ERROR]) == (ERROR, error)
    assert len(disk_interrupts(seen)) == 1
    regs[R_ACK] = 1
    start = command(m, CMD_READ, 1, 1, 0x2000)  # the device and the machine carry on
    m.run(until_cycle=start + 20_000_000)
    assert regs[R_STATUS] == DONE


def test_a_command_while_busy_is_refused_without_disturbing_the_transfer() -> None:
    image = pattern(64)
    m, seen = machine_with_disk(image)
    regs = m.disk.page  # type: ignore[union-attr]
    start = command(m, CMD_READ, 1, 1, 0x2000)
    command(m, CMD_READ, 2, 1, 0x4000)
    assert regs[R_ERROR] == E_BUSY and regs[R_STATUS] == BUSY
    m.run(until_cycle=start + 20_000_000)
    assert m.memory.read(0x2000, BLOCK) == image[BLOCK : 2 * BLOCK]
    assert m.memory.read(0x4000, BLOCK) == bytes(BLOCK)


def test_bad_images_are_refused_clearly(tmp_path: Path) -> None:
    m = Machine(1 << 20)
    with pytest.raises(DiskImageError, match="1000 bytes, not a positive multiple of 512"):
        m.attach_disk(bytes(1000))
    with pytest.raises(DiskImageError, match="cannot read disk image"):
        m.attach_disk(str(tmp_path / "missing.img"))
    (tmp_path / "ok.img").write_bytes(bytes(4 * BLOCK))
    assert m.attach_disk(str(tmp_path / "ok.img")).nblocks == 4


NESTING = """
	.set	KSEG, 0xfffffc0000000000
	.set	DISK, 0xfffffc0100002000
	.text
_start:	br	$29, 1f
1:	ldgp	$29, 0($29)
	lda	$16, ent_int
	clr	$17
	call_pal 0x34			# wrent entInt
	ldiq	$9, KSEG + 0x80000	# interrupt log
	clr	$10
	ldiq	$2, DISK		# read block 7 into PA 0x40000
	lda	$1, 7
	stq	$1, 0($2)
	lda	$1, 1
	stq	$1, 8($2)
	ldiq	$1, 0x40000
	stq	$1, 16($2)
	lda	$1, 1
	stq	$1, 24($2)
	clr	$16
	call_pal 0x35			# swpipl 0
2:	cmplt	$10, 8, $1
	bne	$1, 2b
	call_pal 0x00
ent_int:
	lda	$30, -48($30)		# a handler that can be interrupted saves what it uses
	stq	$1, 0($30)
	stq	$2, 8($30)
	stq	$3, 16($30)
	stq	$4, 24($30)
	stq	$5, 32($30)
	stq	$11, 40($30)
	s8addq	$10, $9, $2		# log a0 on entry
	stq	$16, 0($2)
	addq	$10, 1, $10
	mov	$16, $11
	cmpeq	$16, 3, $1
	beq	$1, 4f
	ldiq	$2, DISK		# acknowledge the disk
	stq	$1, 48($2)
	rpcc	$3			# the disk handler runs for 300,000 cycles
	zapnot	$3, 15, $3
3:	rpcc	$4
	zapnot	$4, 15, $4
	subq	$4, $3, $4
	ldiq	$5, 300000
	cmplt	$4, $5, $4
	bne	$4, 3b
4:	s8addq	$10, $9, $2		# log a0 + 0x100 on exit
	lda	$1, 0x100($11)
	stq	$1, 0($2)
	addq	$10, 1, $10
	ldq	$1, 0($30)
	ldq	$2, 8($30)
	ldq	$3, 16($30)
	ldq	$4, 24($30)
	ldq	$5, 32($30)
	ldq	$11, 40($30)
	lda	$30, 48($30)
	call_pal 0x3f			# rti
"""


def test_interrupts_nest_by_ipl() -> None:
    """The clock (IPL 5) interrupts the disk handler (IPL 3); nothing at
    IPL 3 ever enters while a clock handler runs."""
    m = Machine(4 << 20)
    m.load_kernel(parse_elf(assemble(NESTING, "nest.s", text_base=KSEG_BASE + 0x10120)))
    m.attach_disk(pattern(64))
    assert m.run(max_instructions=5_000_000) == "halt"
    log = [m.memory.read_q(0x80000 + 8 * i) for i in range(8)]
    active: list[int] = []
    nested = False
    for item in log:
        if item < 0x100:
            assert not (item == 3 and 1 in active), log  # IPL 3 cannot enter over IPL 5
            nested |= item == 1 and 3 in active
            active.append(item)
        else:
            assert active.pop() == item - 0x100, log  # handlers return innermost first
    assert nested, log


def test_save_and_restore_with_a_transfer_in_flight(tmp_path: Path) -> None:
    from machine import state

    image = pattern(64)
    straight, _ = machine_with_disk(image)
    start = command(straight, CMD_READ, 9, 2, 0x6000)
    straight.run(until_cycle=start + 30_000_000)
    m, _ = machine_with_disk(image)
    command(m, CMD_READ, 9, 2, 0x6000)
    m.run(until_cycle=start + 1000)  # the transfer is still under way
    assert m.disk.regs[R_STATUS] == BUSY  # type: ignore[union-attr]
    path = tmp_path / "busy.state"
    state.save(m, path)
    back = state.load(path)
    back.pal.entries[ENT_INT] = lambda pal, entry: pal.rti()  # Python handlers are not saved
    straight.pal.entries[ENT_INT] = back.pal.entries[ENT_INT]
    back.run(until_cycle=start + 30_000_000)
    assert back.memory.read(0x6000, 2 * BLOCK) == image[9 * BLOCK : 11 * BLOCK]
    assert back.state_hash() == straight.state_hash()


def test_a_cache_frame_is_not_reclaimable_while_the_disk_fills_it() -> None:
    """Reclaimed mid-transfer, a cache frame would be handed to its next
    owner (a page table, a process's page) with the disk still about to
    write into it: it is offered to Reclaim only once filled."""
    from kernel.boot import boot
    from kernel.fs.format import build_image

    k = boot(disk_image=build_image({"data": bytes(range(256)) * 64}), unix=False)
    fs, phys = k.fs, k.phys
    e = fs.files["data"]
    fs._fetch(e, 0)
    f = fs.busy.frame
    assert f.pfn not in phys.reclaimable and not f.reclaimable  # in flight: nobody may take it
    for _ in range(200):
        if fs.busy is None:
            break
        k.run(until_cycle=k.sal.now + 100_000)
    assert fs.busy is None and fs.cache[(e.ino, 0)] is f
    assert f.pfn in phys.reclaimable  # filled: now the cache may give it up
