/* Loads the shared object of shared_lib.c (linked at build time), reads all of its table,
 * says so on stdout and waits to be measured. */
#include <stdio.h>
#include <unistd.h>

long membudget_read_table(void);

int main(void) {
    if (membudget_read_table() < 16)
        return 3;
    printf("ready\n");
    fflush(stdout);
    pause();
    return 0;
}
