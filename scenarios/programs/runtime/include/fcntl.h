/* <fcntl.h>: open(2) with the Linux/Alpha flag values. */
#ifndef _SPIN_FCNTL_H
#define _SPIN_FCNTL_H

#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_APPEND 010
#define O_CREAT 01000
#define O_TRUNC 02000
#define O_EXCL 04000
#define O_NONBLOCK 04
#define O_DIRECTORY 0100000

int open(const char *path, int flags, ...);

#endif
