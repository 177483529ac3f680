/* Shmem objects and written private pages of known size, for tests/closed_accounting.rs.
 *
 *   shm_objects memfd MIB          a memfd of MIB, mapped shared and touched whole
 *   shm_objects sysv MIB           a SysV segment of MIB, attached, touched whole, then marked
 *                                  for removal (it lives until this process detaches or dies)
 *   shm_objects cow MIB PATH       a sparse file of MIB at PATH (on a tmpfs), mapped
 *                                  MAP_PRIVATE and written whole: copy-on-write pages
 * Prints "ready" when all is in place, then sleeps until killed. Every failure exits non-zero
 * with a message, so the test never measures a half-built workload. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s memfd|sysv|cow MIB [PATH]\n", argv[0]);
        return 2;
    }
    long bytes = atol(argv[2]) * MIB;
    char *p;
    if (strcmp(argv[1], "memfd") == 0) {
        int fd = memfd_create("membudget-test", 0);
        if (fd < 0 || ftruncate(fd, bytes) != 0)
            die("memfd");
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    } else if (strcmp(argv[1], "sysv") == 0) {
        int id = shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0600);
        if (id < 0)
            die("shmget");
        p = shmat(id, NULL, 0);
        if (p == (void *)-1)
            die("shmat");
        if (shmctl(id, IPC_RMID, NULL) != 0)
            die("shmctl");
    } else if (strcmp(argv[1], "cow") == 0 && argc == 4) {
        int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, bytes) != 0)
            die("tmpfs file");
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    if (p == MAP_FAILED)
        die("mmap");
    touch(p, bytes);
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
