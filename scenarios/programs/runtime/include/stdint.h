/* <stdint.h>: gcc's freestanding definitions (its stdint.h, in a hosted
   build, would look for glibc's). */
#ifndef _SPIN_STDINT_H
#define _SPIN_STDINT_H
#include <stdint-gcc.h>
#endif
