"""SPIN's core services (SOSP'95 §4): strands and the scheduler, the memory
services, traps, and the machine-dependent boundary they stand on (sal)."""
