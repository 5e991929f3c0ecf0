"""The Alpha AXP CPU: one instruction table feeds decoder, interpreter,
disassembler, assembler and block translator (alpha-machine.md §1-2)."""
