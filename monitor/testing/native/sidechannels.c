/* Reads identifiers the way native SDK code does, without any Java API (Reardon et al. 2019).
 * Prints one JSON line per read with what the program itself got, so a test can compare it with
 * what the agent recorded. Reads that must NOT be reported (another file, a failed open, another
 * ioctl, another property) are made too, and printed with "expect": "silent". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int __system_property_get(const char *name, char *value);

static void read_fd(const char *label, int fd) {
    char buffer[256] = {0};
    ssize_t got = fd >= 0 ? read(fd, buffer, sizeof buffer - 1) : -1;
    if (got > 0 && buffer[got - 1] == '\n') buffer[got - 1] = 0;
    for (char *c = buffer; *c; c++) if (*c == '\n' || *c == '"' || *c == '\\' || *c == '\t') *c = ' ';
    printf("{\"read\": \"%s\", \"ok\": %s, \"value\": \"%s\"}\n", label, fd >= 0 ? "true" : "false", buffer);
    if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "flood") == 0) {
        /* The same identifier read over and over, as a polling SDK does: the rate limit's case. */
        for (int i = 0; i < 200; i++) close(open("/sys/class/net/lo/address", O_RDONLY));
        printf("{\"read\": \"flood\", \"ok\": true, \"count\": 200}\n");
        return 0;
    }
    read_fd("open", open("/sys/class/net/lo/address", O_RDONLY));
    read_fd("openat", openat(AT_FDCWD, "/proc/net/arp", O_RDONLY));
    FILE *cpu = fopen("/proc/cpuinfo", "r");
    printf("{\"read\": \"fopen\", \"ok\": %s}\n", cpu != NULL ? "true" : "false");
    if (cpu != NULL) fclose(cpu);

    /* Silent: a file that is not an identifier, and an identifier file that does not exist. */
    read_fd("silent-open", open("/proc/self/stat", O_RDONLY));
    read_fd("silent-missing", open("/sys/class/net/consentmon-none/address", O_RDONLY));

    struct ifaddrs *list = NULL;
    int rc = getifaddrs(&list);
    int count = 0;
    for (struct ifaddrs *node = list; node != NULL; node = node->ifa_next) count++;
    printf("{\"read\": \"getifaddrs\", \"ok\": %s, \"count\": %d}\n", rc == 0 ? "true" : "false", count);
    if (list != NULL) freeifaddrs(list);

    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    rc = ioctl(sock, SIOCGIFHWADDR, &request);
    unsigned char *mac = (unsigned char *) request.ifr_hwaddr.sa_data;
    printf("{\"read\": \"ioctl\", \"ok\": %s, \"value\": \"%02x:%02x:%02x:%02x:%02x:%02x\"}\n", rc == 0 ? "true" : "false",
           mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    rc = ioctl(sock, SIOCGIFMTU, &request);  /* silent: not a hardware address */
    printf("{\"read\": \"silent-ioctl\", \"ok\": %s}\n", rc == 0 ? "true" : "false");
    close(sock);

    char value[92] = {0};
    int length = __system_property_get("ro.serialno", value);
    printf("{\"read\": \"property\", \"ok\": %s, \"value\": \"%s\"}\n", length > 0 ? "true" : "false", value);
    length = __system_property_get("ro.build.version.sdk", value);  /* silent: not an identifier */
    printf("{\"read\": \"silent-property\", \"ok\": %s, \"value\": \"%s\"}\n", length > 0 ? "true" : "false", value);
    fflush(stdout);
    return 0;
}
