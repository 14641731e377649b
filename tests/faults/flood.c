/* A hooked read fired N times as fast as the process can (a polling SDK gone wrong): the agent's rate
   limit must count what it does not store, and neither side's memory may grow with N. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    long opened = 0;
    for (long i = 0; i < count; i++) {
        int fd = open("/sys/class/net/lo/address", O_RDONLY);
        if (fd >= 0) { opened++; close(fd); }
    }
    printf("{\"flood\": %ld, \"opened\": %ld}\n", count, opened);
    fflush(stdout);
    return 0;
}
