/* Absolute deadlines on CLOCK_MONOTONIC for pthread_cond_timedwait on a condition variable
 * whose clock was set to CLOCK_MONOTONIC (a wall-clock step must not stretch a wait). */
#ifndef COBBLE_DEADLINE_H
#define COBBLE_DEADLINE_H
#include <time.h>

/* CLOCK_MONOTONIC now plus ms milliseconds (ms >= 0). */
struct timespec deadline_after_ms(int ms);

#endif
