/* A process whose leak is known by construction, for tests/trend_workload.rs.
 *
 * usage: leaker BIG_KIB SMALL_COUNT SMALL_KIB PERIOD_MS TICKS
 *
 * Holds 1 MiB from the start (a steady working set), then every PERIOD_MS leaks one block of
 * BIG_KIB (above glibc's 128 KiB M_MMAP_THRESHOLD: its own mmap) and SMALL_COUNT blocks of
 * SMALL_KIB (below it: carved from the brk heap), all touched. Ticks are on absolute deadlines
 * so a late wake-up does not slow the leak down. With BIG_KIB = SMALL_COUNT = 0 it is the steady
 * neighbour: it holds its 1 MiB and leaks nothing. Compiled at -O0, and every block is kept in
 * a volatile sink, so the compiler cannot drop an allocation whose result is unused.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *volatile sink;

static void leak(long bytes)
{
    char *block = malloc(bytes);
    if (block == NULL) {
        perror("malloc");
        exit(1);
    }
    memset(block, 0x5a, bytes);
    sink = block;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s BIG_KIB SMALL_COUNT SMALL_KIB PERIOD_MS TICKS\n", argv[0]);
        return 2;
    }
    long big = atol(argv[1]) * 1024;
    long small_count = atol(argv[2]);
    long small = atol(argv[3]) * 1024;
    long period_ns = atol(argv[4]) * 1000000L;
    long ticks = atol(argv[5]);

    leak(1L << 20);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (long k = 0; k < ticks; k++) {
        if (big > 0)
            leak(big);
        for (long i = 0; i < small_count; i++)
            leak(small);
        next.tv_nsec += period_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return 0;
}
