/* A shared object for the per-library view: 64 KiB of read-only data that every process
 * loading it reads page by page, so the pages are shared by exactly the processes that load it
 * (built with cc -shared by tests/peers.rs). */
#define TABLE_BYTES (64 * 1024)

const char membudget_table[TABLE_BYTES] = {1};

long membudget_read_table(void) {
    const volatile char *table = membudget_table;
    long sum = 0;
    for (long i = 0; i < TABLE_BYTES; i += 4096)
        sum += table[i] + 1;
    return sum;
}
