	.file	"div.S"
/* Integer division helpers gcc calls on Alpha (no divide instruction).
   Convention (alpha-machine.md §6.3): dividend in $24, divisor in $25,
   result in $27, return through $23; every other register, $24 and $25
   included, must survive ($28 = at may be clobbered). Integer-only
   shift-subtract; division by zero raises gentrap GEN_INTDIV like glibc. */

	.set	noat
	.set	noreorder
	.text


/* DIVFN name, signed(0/1), want_rem(0/1), long(0/1) */
	.macro	DIVFN name, sgn, rem, lng
	.globl	\name
	.ent	\name
\name:
	lda	$30, -64($30)
	stq	$1, 0($30)
	stq	$2, 8($30)
	stq	$3, 16($30)
	stq	$4, 24($30)
	stq	$5, 32($30)
	stq	$6, 40($30)
	stq	$22, 48($30)
	stq	$16, 56($30)
	.if \lng
	.if \sgn
	addl	$24, 0, $1
	addl	$25, 0, $2
	.else
	zapnot	$24, 15, $1
	zapnot	$25, 15, $2
	.endif
	.else
	mov	$24, $1
	mov	$25, $2
	.endif
	beq	$2, 9f
	clr	$6			/* bit 0: negate quotient, bit 1: negate remainder */
	.if \sgn
	bge	$1, 4f
	subq	$31, $1, $1
	lda	$6, 3($31)
4:	bge	$2, 5f
	subq	$31, $2, $2
	xor	$6, 1, $6
5:
	.endif
	bsr	$22, __udiv_loop
	.if \rem
	mov	$4, $27
	srl	$6, 1, $6
	.else
	mov	$3, $27
	.endif
	blbc	$6, 6f
	subq	$31, $27, $27
6:
	.if \lng
	addl	$27, 0, $27
	.endif
	ldq	$1, 0($30)
	ldq	$2, 8($30)
	ldq	$3, 16($30)
	ldq	$4, 24($30)
	ldq	$5, 32($30)
	ldq	$6, 40($30)
	ldq	$22, 48($30)
	ldq	$16, 56($30)
	lda	$30, 64($30)
	ret	$31, ($23), 1
9:	lda	$16, -2($31)		/* GEN_INTDIV */
	call_pal 0xaa			/* gentrap */
	br	9b
	.end	\name
	.endm

/* __udiv_loop: the core as a subroutine returning through $22. */
	.ent	__udiv_loop
__udiv_loop:
	clr	$3
	clr	$4
	cmpult	$1, $2, $28
	bne	$28, 3f
	lda	$5, 64($31)
1:	addq	$4, $4, $4
	srl	$1, 63, $28
	bis	$4, $28, $4
	addq	$1, $1, $1
	addq	$3, $3, $3
	cmpule	$2, $4, $28
	beq	$28, 2f
	subq	$4, $2, $4
	bis	$3, 1, $3
2:	subq	$5, 1, $5
	bne	$5, 1b
	ret	$31, ($22), 1
3:	mov	$1, $4
	ret	$31, ($22), 1
	.end	__udiv_loop

	DIVFN	__divq, 1, 0, 0
	DIVFN	__divqu, 0, 0, 0
	DIVFN	__remq, 1, 1, 0
	DIVFN	__remqu, 0, 1, 0
	DIVFN	__divl, 1, 0, 1
	DIVFN	__divlu, 0, 0, 1
	DIVFN	__reml, 1, 1, 1
	DIVFN	__remlu, 0, 1, 1
	.section .note.GNU-stack,"",@progbits
