	.file	"crt0.S"
/* Process entry: the kernel (or the harness) leaves argc at 0(sp), argv at
   8(sp) and envp after argv's NULL, Linux-style. Set gp, call main, exit. */
	.text
	.globl	_start
	.ent	_start
_start:
	br	$29, 1f
1:	ldgp	$29, 0($29)
	ldq	$16, 0($30)		/* argc */
	lda	$17, 8($30)		/* argv */
	s8addq	$16, $17, $18
	lda	$18, 8($18)		/* envp = argv + argc + 1 */
	lda	$30, -16($30)
	bsr	$26, main	!samegp
	mov	$0, $16
	bsr	$26, exit	!samegp
	.end	_start
	.section .note.GNU-stack,"",@progbits
