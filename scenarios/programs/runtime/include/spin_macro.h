/* Macro system calls for `spinwb cc` programs (extensions/macro_calls.py,
   Poking Holes §5). Each returns -1 and sets errno on failure (ENOSYS 78
   without the extension loaded: spinwb run --ext extensions/macro_calls.py). */
#ifndef _SPIN_MACRO_H
#define _SPIN_MACRO_H
#include <unistd.h>

ssize_t open_read_close(const char *path, void *buf, size_t n);
ssize_t file_to_socket(const char *path, int sock);
int read_fixed_bind(int fd, size_t n);
ssize_t read_fixed(void *buf);
#endif
