/* Starts programs the ways apps do, to check that the agent's child gating never changes the outcome.
 * For each PATH argument, each way: the exec'd program reports back how the exec went, like the JVM's
 * process launcher does (the child moves its error pipe to fd 3, execs, and on failure writes errno
 * there before _exit(127)).
 *   execchildren run PATH...   one line per (way, PATH): {"way", "path", "errno", "status"}
 *   execchildren reader        the exec'd program of a successful run: reads the loopback MAC
 * Ways: fork+execve, fork+execvp (PATH search, as Runtime.exec("su") does), vfork+execve, posix_spawn. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *errno_name(int code) {
    switch (code) {
        case 0: return "none";
        case ENOENT: return "ENOENT";
        case EACCES: return "EACCES";
        case ENOEXEC: return "ENOEXEC";
        default: return "other";
    }
}

static void report(const char *way, const char *path, int code, int status) {
    printf("{\"way\": \"%s\", \"path\": \"%s\", \"errno\": \"%s\", \"status\": %d}\n", way, path, errno_name(code), status);
    fflush(stdout);
}

/* The child's side: error pipe onto fd 3 (a descriptor an injected agent may hold), then exec. */
static void exec_in_child(int error_pipe, const char *path, char **child_argv, int search_path) {
    if (error_pipe != 3) {
        dup2(error_pipe, 3);
        close(error_pipe);
    }
    fcntl(3, F_SETFD, FD_CLOEXEC);
    if (search_path) {
        execvp(path, child_argv);
    } else {
        execve(path, child_argv, environ);
    }
    int code = errno;
    if (write(3, &code, sizeof code) < 0) code = -1;
    _exit(127);
}

/* The parent's side: the errno the child sent, or 0 when the pipe closed on a successful exec. */
static int exec_errno(int pipe_read) {
    int code = 0;
    ssize_t got = read(pipe_read, &code, sizeof code);
    close(pipe_read);
    return got == (ssize_t) sizeof code ? code : 0;
}

static void start(const char *way, const char *self, const char *path) {
    char *reader_argv[] = {(char *) self, "reader", NULL};
    char *plain_argv[] = {(char *) path, NULL};
    char **child_argv = strcmp(path, self) == 0 ? reader_argv : plain_argv;
    int status = -1;
    int code = 0;
    if (strcmp(way, "posix_spawn") == 0) {
        pid_t child = -1;
        code = posix_spawn(&child, path, NULL, NULL, child_argv, environ);
        if (code == 0) waitpid(child, &status, 0);
        report(way, path, code, status);
        return;
    }
    int pipes[2];
    if (pipe(pipes) != 0) {
        report(way, path, errno, -2);
        return;
    }
    pid_t child = strcmp(way, "vfork+execve") == 0 ? vfork() : fork();
    if (child == 0) {
        close(pipes[0]);
        exec_in_child(pipes[1], path, child_argv, strcmp(way, "fork+execvp") == 0);
    }
    close(pipes[1]);
    code = child > 0 ? exec_errno(pipes[0]) : errno;
    if (child > 0) waitpid(child, &status, 0);
    report(way, path, code, status);
}

static void read_mac(void) {
    char buffer[64] = {0};
    int fd = open("/sys/class/net/lo/address", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, buffer, sizeof buffer - 1) < 0) buffer[0] = 0;
        close(fd);
    }
    printf("{\"role\": \"reader\", \"pid\": %d}\n", (int) getpid());
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "reader") == 0) {
        read_mac();
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: execchildren run PATH... | execchildren reader\n");
        return 2;
    }
    const char *ways[] = {"fork+execve", "fork+execvp", "vfork+execve", "posix_spawn"};
    for (int index = 2; index < argc; index++) {
        for (size_t way = 0; way < sizeof ways / sizeof ways[0]; way++) start(ways[way], argv[0], argv[index]);
    }
    return 0;
}
