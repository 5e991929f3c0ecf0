	.file	"sigtramp.S"
/* Where a signal handler returns: rt_sigreturn with the frame at sp, as
   Linux/Alpha's own trampoline does (mov $30,$16; lda $0,351; callsys). */
	.text
	.globl	__sigreturn_stub
	.ent	__sigreturn_stub
__sigreturn_stub:
	mov	$30, $16
	lda	$0, 351($31)
	call_pal 0x83
	.end	__sigreturn_stub
	.section .note.GNU-stack,"",@progbits
