/* A bytecode interpreter: a small stack VM with a switch dispatch loop,
   running a sieve of Eratosthenes and a Fibonacci sum. General code for
   `spinwb bench cpu`: short blocks, an indirect jump per bytecode, byte
   fetches (ldq_u/extbl on ev4). argv[1]: rounds. */
#include "lib.h"

enum {
	OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_LT, OP_EQ,
	OP_JMP, OP_JZ, OP_JNZ, OP_DUP, OP_INC, OP_AGET, OP_ASET,
};

/* Operands follow their opcode: one byte (a variable) or two (a signed
   16-bit immediate or jump target, little-endian). AGET pops an index and
   pushes that byte of the VM's memory; ASET pops a value and an index. */
#define IMM(v) (unsigned char)((v) & 0xFF), (unsigned char)(((v) >> 8) & 0xFF)

/* The sieve of Eratosthenes. vars: 0 limit, 1 i, 2 j, 3 count;
   mem[k] = 1: k is composite. The comments give each label's offset. */
static const unsigned char sieve[] = {
	OP_PUSH, IMM(2), OP_STORE, 1, OP_PUSH, IMM(0), OP_STORE, 3,
	/* 10 outer */ OP_LOAD, 1, OP_LOAD, 0, OP_LT, OP_JZ, IMM(61),
	OP_LOAD, 1, OP_AGET, OP_JNZ, IMM(56),
	OP_INC, 3, OP_LOAD, 1, OP_DUP, OP_ADD, OP_STORE, 2,
	/* 32 inner */ OP_LOAD, 2, OP_LOAD, 0, OP_LT, OP_JZ, IMM(56),
	OP_LOAD, 2, OP_PUSH, IMM(1), OP_ASET,
	OP_LOAD, 2, OP_LOAD, 1, OP_ADD, OP_STORE, 2, OP_JMP, IMM(32),
	/* 56 next */ OP_INC, 1, OP_JMP, IMM(10),
	/* 61 end */ OP_LOAD, 3, OP_HALT,
};

/* Fibonacci numbers and their sum, modulo 30011 by subtraction (no
   division: its millicode loop would dominate). vars: 0 limit, 1 a, 2 b,
   3 i, 4 sum. */
static const unsigned char fib[] = {
	OP_PUSH, IMM(0), OP_STORE, 1, OP_PUSH, IMM(1), OP_STORE, 2,
	OP_PUSH, IMM(0), OP_STORE, 3, OP_PUSH, IMM(0), OP_STORE, 4,
	/* 20 loop */ OP_LOAD, 3, OP_LOAD, 0, OP_EQ, OP_JNZ, IMM(84),
	OP_LOAD, 1, OP_LOAD, 2, OP_DUP, OP_STORE, 1, OP_ADD, OP_STORE, 2,
	OP_LOAD, 2, OP_PUSH, IMM(30011), OP_LT, OP_JNZ, IMM(55),
	OP_LOAD, 2, OP_PUSH, IMM(30011), OP_SUB, OP_STORE, 2,
	/* 55 b_ok */ OP_LOAD, 4, OP_LOAD, 1, OP_ADD, OP_STORE, 4,
	OP_LOAD, 4, OP_PUSH, IMM(30011), OP_LT, OP_JNZ, IMM(79),
	OP_LOAD, 4, OP_PUSH, IMM(30011), OP_SUB, OP_STORE, 4,
	/* 79 s_ok */ OP_INC, 3, OP_JMP, IMM(20),
	/* 84 end */ OP_LOAD, 4, OP_HALT,
};

static long steps;

static long run(const unsigned char *code, long limit)
{
	static unsigned char mem[2048];
	long stack[32], vars[8] = { limit };
	int sp = 0, pc = 0;
	memset(mem, 0, sizeof mem);
	for (;;) {
		unsigned char op = code[pc++];
		steps++;
		switch (op) {
		case OP_HALT:
			return sp ? stack[sp - 1] : -1;
		case OP_PUSH:
			stack[sp++] = (short)(code[pc] | code[pc + 1] << 8);
			pc += 2;
			break;
		case OP_LOAD:
			stack[sp++] = vars[code[pc++]];
			break;
		case OP_STORE:
			vars[code[pc++]] = stack[--sp];
			break;
		case OP_ADD:
			sp--;
			stack[sp - 1] += stack[sp];
			break;
		case OP_SUB:
			sp--;
			stack[sp - 1] -= stack[sp];
			break;
		case OP_LT:
			sp--;
			stack[sp - 1] = stack[sp - 1] < stack[sp];
			break;
		case OP_EQ:
			sp--;
			stack[sp - 1] = stack[sp - 1] == stack[sp];
			break;
		case OP_JMP:
			pc = code[pc] | code[pc + 1] << 8;
			break;
		case OP_JZ:
			pc = stack[--sp] ? pc + 2 : (code[pc] | code[pc + 1] << 8);
			break;
		case OP_JNZ:
			pc = stack[--sp] ? (code[pc] | code[pc + 1] << 8) : pc + 2;
			break;
		case OP_DUP:
			stack[sp] = stack[sp - 1];
			sp++;
			break;
		case OP_INC:
			vars[code[pc++]]++;
			break;
		case OP_AGET:
			stack[sp - 1] = mem[stack[sp - 1] & 2047];
			break;
		case OP_ASET:
			sp -= 2;
			mem[stack[sp] & 2047] = (unsigned char)stack[sp + 1];
			break;
		default:
			printf("bad opcode %d at %d\n", op, pc - 1);
			exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 1;
	unsigned long h = 0;
	long np = 0, fs = 0;
	for (long r = 0; r < rounds; r++) {
		np = run(sieve, 1500 + r % 7);
		fs = run(fib, 400 + r % 5);
		h = (h * 31 + (unsigned long)np) * 31 + (unsigned long)fs;
	}
	printf("interp rounds=%ld primes=%ld fibsum=%ld steps=%ld h=%016lx\n", rounds, np, fs, steps, h);
	return 0;
}
