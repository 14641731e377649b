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
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
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

    /* Connections: IPv4 TCP and UDP, IPv6 TCP (recorded with host and port), a Unix socket (local IPC:
       silent). All on loopback, to ports where nothing listens: a refused connect is still an attempt. */
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(1);
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    sock = socket(AF_INET, SOCK_STREAM, 0);
    rc = connect(sock, (struct sockaddr *) &v4, sizeof v4);
    printf("{\"read\": \"connect-tcp4\", \"ok\": %s}\n", rc == 0 ? "true" : "false");
    close(sock);
    v4.sin_port = htons(9);
    sock = socket(AF_INET, SOCK_DGRAM, 0);
    rc = connect(sock, (struct sockaddr *) &v4, sizeof v4);  /* UDP: sets the peer, sends nothing */
    printf("{\"read\": \"connect-udp4\", \"ok\": %s}\n", rc == 0 ? "true" : "false");
    close(sock);
    struct sockaddr_in6 v6;
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(2);
    v6.sin6_addr = in6addr_loopback;
    sock = socket(AF_INET6, SOCK_STREAM, 0);
    rc = sock < 0 ? -1 : connect(sock, (struct sockaddr *) &v6, sizeof v6);
    printf("{\"read\": \"connect-tcp6\", \"ok\": %s, \"socket\": %s}\n", rc == 0 ? "true" : "false", sock < 0 ? "false" : "true");
    if (sock >= 0) close(sock);
    struct sockaddr_un local;
    memset(&local, 0, sizeof local);
    local.sun_family = AF_UNIX;
    strncpy(local.sun_path, "/tmp/consentmon-no-such-socket", sizeof local.sun_path - 1);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    rc = connect(sock, (struct sockaddr *) &local, sizeof local);
    printf("{\"read\": \"silent-connect-unix\", \"ok\": %s}\n", rc == 0 ? "true" : "false");
    close(sock);

    char value[92] = {0};
    int length = __system_property_get("ro.serialno", value);
    printf("{\"read\": \"property\", \"ok\": %s, \"value\": \"%s\"}\n", length > 0 ? "true" : "false", value);
    length = __system_property_get("ro.build.version.sdk", value);  /* silent: not an identifier */
    printf("{\"read\": \"silent-property\", \"ok\": %s, \"value\": \"%s\"}\n", length > 0 ? "true" : "false", value);
    fflush(stdout);
    return 0;
}
