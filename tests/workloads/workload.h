/* What every workload of tests/workloads needs: fail loudly, touch memory page by page. */
#ifndef MEMBUDGET_WORKLOAD_H
#define MEMBUDGET_WORKLOAD_H

#include <stdio.h>
#include <stdlib.h>

#define MIB (1024L * 1024L)

/* Every failure exits non-zero with a message, so a test never measures a half-built
 * workload. */
static void die(const char *what) {
    perror(what);
    exit(3);
}

/* One write per 4 KiB page makes every page resident. */
static void touch(char *p, long bytes) {
    for (long i = 0; i < bytes; i += 4096)
        p[i] = 1;
}

#endif
