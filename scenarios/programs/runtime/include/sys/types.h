/* <sys/types.h>: the types the file calls take. */
#ifndef _SPIN_SYS_TYPES_H
#define _SPIN_SYS_TYPES_H
#include <stddef.h>

#ifndef _SPIN_OFF_T
#define _SPIN_OFF_T
typedef long ssize_t;
typedef int pid_t;
typedef long off_t;
#endif
typedef unsigned int mode_t;
typedef unsigned long ino_t;

#endif
