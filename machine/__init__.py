"""The emulated DEC 3000/400 workstation: CPU, memory, loader and tools."""
