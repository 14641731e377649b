/* A parent that starts children two ways; every process reads the loopback MAC from sysfs.
 *   1. posix_spawn of a fresh copy of itself (how Runtime.exec and most launchers start programs);
 *   2. a plain fork() whose child reads and exits.
 * Prints {"role", "pid"} lines so a test can tie events to processes, and how each child ended.
 * Usage: multiproc            (parent)
 *        multiproc exec-child (the spawned process) */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void read_mac(const char *role) {
    char buffer[64] = {0};
    int fd = open("/sys/class/net/lo/address", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, buffer, sizeof buffer - 1) < 0) buffer[0] = 0;
        close(fd);
    }
    printf("{\"role\": \"%s\", \"pid\": %d}\n", role, (int) getpid());
    fflush(stdout);
}

static void reaped(const char *how, pid_t child) {
    int status = 0;
    waitpid(child, &status, 0);
    printf("{\"role\": \"reaped\", \"how\": \"%s\", \"pid\": %d, \"status\": %d}\n", how, (int) child, status);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        read_mac("exec-child");
        return 0;
    }
    read_mac("parent");
    pid_t spawned = -1;
    char *child_argv[] = {argv[0], "exec-child", NULL};
    if (posix_spawn(&spawned, argv[0], NULL, NULL, child_argv, environ) == 0) reaped("posix_spawn", spawned);
    pid_t forked = fork();
    if (forked == 0) {
        read_mac("fork-child");
        _exit(0);
    }
    if (forked > 0) reaped("fork", forked);
    return 0;
}
