# Bare-metal smoke test for the emulated DEC 3000/400, with no Python kernel.
# Runs in kernel mode from KSEG: installs the PAL entry points with wrent,
# builds an OSF/1 page table, switches to it with swpctx, enters user mode
# with rti, and handles a system call, a demand-zero page fault and an
# interval-timer tick, printing each through the console.
# Assemble with the text at KSEG: spinwb's assembler, text_base KSEG+0x10120.

	.set	CONSOLE, 0xfffffc0100000000	# console TX register, through KSEG
	.set	KSEG, 0xfffffc0000000000
	.set	L1PA, 0x100000			# page tables (physical)
	.set	L2PA, 0x102000
	.set	L3PA, 0x104000
	.set	PCBPA, 0x106000			# the HWPCB
	.set	UDATA_PFN, 0x84			# user data and stack page
	.set	DEMAND_PFN, 0x85		# the page the fault handler maps
	.set	KSTACK, 0xfffffc0000200000
	.set	PTE_URX, 0x301			# V KRE URE: user read/execute
	.set	PTE_URW, 0x3301			# V KRE URE KWE UWE: user read/write
	.set	PTE_TABLE, 0x1101		# V KRE KWE: an L1 or L2 entry

	.text
	.globl	_start
	.ent	_start
_start:	br	$29, 1f
1:	ldgp	$29, 0($29)
	mov	$29, $16
	call_pal 0x37				# wrkgp
	lda	$16, ent_int
	clr	$17
	call_pal 0x34				# wrent 0: entInt
	lda	$16, ent_bad
	lda	$17, 1
	call_pal 0x34				# entArith
	lda	$16, ent_mm
	lda	$17, 2
	call_pal 0x34				# entMM
	lda	$16, ent_bad
	lda	$17, 3
	call_pal 0x34				# entIF
	lda	$16, ent_bad
	lda	$17, 4
	call_pal 0x34				# entUna
	lda	$16, ent_sys
	lda	$17, 5
	call_pal 0x34				# entSys
	lda	$16, banner
	bsr	$26, puts

	ldiq	$1, KSEG + L1PA			# L1[0] -> L2, L2[0] -> L3: user VAs below 8 MiB
	ldiq	$2, (L2PA >> 13 << 32) | PTE_TABLE
	stq	$2, 0($1)
	ldiq	$1, KSEG + L2PA
	ldiq	$2, (L3PA >> 13 << 32) | PTE_TABLE
	stq	$2, 0($1)
	ldiq	$1, KSEG + L3PA
	lda	$3, user_code			# user code page: VA 0x10000 (L3 index 8)
	ldiq	$4, KSEG
	subq	$3, $4, $3
	srl	$3, 13, $3
	sll	$3, 32, $3
	lda	$3, PTE_URX($3)
	stq	$3, 64($1)
	ldiq	$2, (UDATA_PFN << 32) | PTE_URW	# user data: VA 0x20000 (index 16)
	stq	$2, 128($1)

	ldiq	$1, KSEG + PCBPA		# HWPCB: KSP USP PTBR PCC/ASN UNIQUE FLAGS
	ldiq	$2, KSTACK
	stq	$2, 0($1)
	ldiq	$2, 0x22000
	stq	$2, 8($1)
	lda	$2, L1PA >> 13
	stq	$2, 16($1)
	stq	$31, 24($1)
	stq	$31, 32($1)
	lda	$2, 1
	stq	$2, 40($1)
	ldiq	$16, PCBPA
	call_pal 0x30				# swpctx: page table, stacks

	lda	$30, -48($30)			# a frame that "returns" to user mode
	lda	$1, 8				# PS: user mode, IPL 0
	stq	$1, 0($30)
	ldiq	$1, 0x10000
	stq	$1, 8($30)
	stq	$31, 16($30)
	stq	$31, 24($30)
	stq	$31, 32($30)
	stq	$31, 40($30)
	call_pal 0x3f				# rti
	.end	_start

# puts: print the NUL-terminated string at a0; clobbers $1 $2 $16
	.ent	puts
puts:	ldiq	$2, CONSOLE
1:	ldq_u	$1, 0($16)
	extbl	$1, $16, $1
	beq	$1, 2f
	stq	$1, 0($2)
	addq	$16, 1, $16
	br	1b
2:	ret
	.end	puts

# entSys: v0 = call number; 1 exit, 2 failure, anything else returns 42.
	.ent	ent_sys
ent_sys:
	cmpeq	$0, 1, $1
	bne	$1, 1f
	cmpeq	$0, 2, $1
	bne	$1, 2f
	lda	$16, msg_sys
	bsr	$26, puts
	lda	$0, 42
	call_pal 0x3d				# retsys
1:	lda	$16, msg_exit
	bsr	$26, puts
	clr	$16
	call_pal 0x00				# halt
2:	lda	$16, msg_fail
	bsr	$26, puts
	lda	$16, 2
	call_pal 0x00
	.end	ent_sys

# entMM: a0 = VA, a1 = MMCSR, a2 = cause. Map the demand page and restart.
	.ent	ent_mm
ent_mm:	lda	$30, -32($30)
	stq	$1, 0($30)
	stq	$2, 8($30)
	stq	$26, 16($30)
	stq	$0, 24($30)
	bne	$17, mm_bad			# only "not valid" (TNV) is expected
	srl	$16, 13, $1
	cmpeq	$1, 0x18, $1			# VA 0x30000's page
	beq	$1, mm_bad
	ldiq	$1, KSEG + L3PA
	ldiq	$2, (DEMAND_PFN << 32) | PTE_URW
	stq	$2, 192($1)			# L3 index 24
	mov	$16, $17
	lda	$16, 3
	call_pal 0x33				# tbi: TBIS the page
	lda	$16, msg_mm
	bsr	$26, puts
	ldq	$1, 0($30)
	ldq	$2, 8($30)
	ldq	$26, 16($30)
	ldq	$0, 24($30)
	lda	$30, 32($30)
	call_pal 0x3f				# rti: the load or store runs again
mm_bad:	lda	$16, msg_bad
	bsr	$26, puts
	lda	$16, 3
	call_pal 0x00
	.end	ent_mm

# entInt: a0 = 1 for the interval clock. Bump the user's tick counter.
	.ent	ent_int
ent_int:
	lda	$30, -32($30)
	stq	$1, 0($30)
	stq	$2, 8($30)
	stq	$26, 16($30)
	stq	$16, 24($30)
	cmpeq	$16, 1, $1
	beq	$1, ent_bad
	ldiq	$1, KSEG + (UDATA_PFN << 13)
	ldq	$2, 0x100($1)
	addq	$2, 1, $2
	stq	$2, 0x100($1)			# user VA 0x20100
	lda	$16, msg_tick
	bsr	$26, puts
	ldq	$1, 0($30)
	ldq	$2, 8($30)
	ldq	$26, 16($30)
	ldq	$16, 24($30)
	lda	$30, 32($30)
	call_pal 0x3f
	.end	ent_int

	.ent	ent_bad
ent_bad:
	lda	$16, msg_bad
	bsr	$26, puts
	lda	$16, 4
	call_pal 0x00
	.end	ent_bad

# The user program: its own page, run at VA 0x10000 in user mode.
	.align	13
user_code:
	lda	$0, 4
	lda	$16, 7
	callsys					# 1. a system call
	cmpeq	$0, 42, $1
	beq	$1, 9f
	ldiq	$2, 0x30000
	lda	$3, 99
	stq	$3, 0($2)			# 2. a page fault, handled by mapping the page
	ldq	$4, 0($2)
	cmpeq	$4, 99, $1
	beq	$1, 9f
	ldiq	$5, 0x20100
1:	ldq	$6, 0($5)			# 3. spin until the clock handler counts a tick
	beq	$6, 1b
	lda	$0, 1
	callsys					# exit
9:	lda	$0, 2
	callsys					# report a failed check

	.data
banner:	.asciz	"smoke: kernel up\n"
msg_sys:	.asciz	"smoke: system call\n"
msg_mm:	.asciz	"smoke: page fault handled\n"
msg_tick:	.asciz	"smoke: timer tick\n"
msg_exit:	.asciz	"smoke: user program exited\n"
msg_fail:	.asciz	"smoke: user check failed\n"
msg_bad:	.asciz	"smoke: unexpected trap\n"
