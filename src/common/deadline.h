/* Time on CLOCK_MONOTONIC (a wall-clock step must not stretch a wait or a timeout): absolute
 * deadlines for pthread_cond_timedwait on a condition variable whose clock was set to
 * CLOCK_MONOTONIC, the time left until one, and a millisecond clock for timeouts. */
#ifndef COBBLE_DEADLINE_H
#define COBBLE_DEADLINE_H
#include <time.h>

/* CLOCK_MONOTONIC now plus ms milliseconds (ms >= 0). */
struct timespec deadline_after_ms(int ms);
/* Milliseconds from now until dl, rounded up (a deadline not yet reached has at least 1
 * left); 0 once it passed. At most INT_MAX. */
long deadline_ms_left(const struct timespec *dl);
/* CLOCK_MONOTONIC in milliseconds (from an arbitrary start: for differences only). */
long long deadline_now_ms(void);

#endif
