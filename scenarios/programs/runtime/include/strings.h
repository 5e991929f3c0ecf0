/* <strings.h>: the case-insensitive comparisons (declared in <string.h> too). */
#ifndef _SPIN_STRINGS_H
#define _SPIN_STRINGS_H
#include <string.h>
#endif
