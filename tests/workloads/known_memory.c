/* A process whose memory is known by construction, for tests/accuracy.rs.
 *
 *   known_memory HEAP_MIB THREADS STACK_KIB ANON_MIB TMPFS_PATH TMPFS_MIB SHARED_MIB
 *
 * - heap: HEAP_MIB grown with sbrk (glibc's malloc would use mmap for big blocks) and touched;
 * - THREADS threads with a STACK_KIB stack each (pthread_attr_setstacksize), blocked;
 * - an anonymous private mmap of ANON_MIB, touched;
 * - a file of TMPFS_MIB on a tmpfs at TMPFS_PATH, written and mapped shared (TMPFS_MIB 0: map
 *   the existing file whole, as a second reader);
 * - SHARED_MIB of shared anonymous memory, touched by this process and by a forked child that
 *   does nothing else (0: no child).
 * Prints "ready <child pid or 0>" when all is in place, then sleeps until killed. Every
 * failure exits non-zero with a message, so the test never measures a half-built workload. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

static void *blocked(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s HEAP_MIB THREADS STACK_KIB ANON_MIB TMPFS_PATH TMPFS_MIB SHARED_MIB\n", argv[0]);
        return 2;
    }
    long heap = atol(argv[1]) * MIB, threads = atol(argv[2]), stack = atol(argv[3]) * 1024;
    long anon = atol(argv[4]) * MIB, tmpfs = atol(argv[6]) * MIB, shared = atol(argv[7]) * MIB;
    const char *tmpfs_path = argv[5];

    /* Shared anonymous memory first, and the child at once: it inherits nothing else. */
    pid_t child = 0;
    if (shared > 0) {
        char *s = mmap(NULL, shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (s == MAP_FAILED)
            die("mmap shared");
        touch(s, shared);
        child = fork();
        if (child < 0)
            die("fork");
        if (child == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            touch(s, shared);
            for (;;)
                pause();
        }
    }

    if (heap > 0) {
        char *h = sbrk(heap);
        if (h == (void *)-1)
            die("sbrk");
        touch(h, heap);
    }

    /* Threads before the anonymous mmap: the mmap then lands below the last thread's guard
     * page instead of right above a stack, where the kernel would merge the two VMAs. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (threads > 0 && pthread_attr_setstacksize(&attr, stack) != 0)
        die("pthread_attr_setstacksize");
    for (long i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, blocked, NULL) != 0)
            die("pthread_create");
    }

    if (anon > 0) {
        char *a = mmap(NULL, anon, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED)
            die("mmap anon");
        touch(a, anon);
    }

    if (strcmp(tmpfs_path, "-") != 0) {
        int fd = open(tmpfs_path, tmpfs > 0 ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0600);
        if (fd < 0)
            die("open tmpfs file");
        if (tmpfs > 0) {
            char block[65536];
            memset(block, 7, sizeof block);
            for (long done = 0; done < tmpfs; done += sizeof block)
                if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
                    die("write tmpfs file");
        }
        struct stat st;
        if (fstat(fd, &st) != 0)
            die("fstat");
        char *f = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (f == MAP_FAILED)
            die("mmap tmpfs file");
        volatile char sum = 0;
        for (long i = 0; i < st.st_size; i += 4096)
            sum += f[i];
        close(fd);
    }

    printf("ready %d\n", (int)child);
    fflush(stdout);
    for (;;)
        pause();
}
