"""The UNIX personality: processes, address spaces and Linux/Alpha system
calls, built as an extension on SPIN's core services (SOSP'95 §4)."""
