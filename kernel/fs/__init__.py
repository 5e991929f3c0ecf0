"""The extent file system: its on-disk format (shared with the host tool)
and the kernel's driver."""
