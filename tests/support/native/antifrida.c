/* Anti-Frida checks as hardened apps and their protection SDKs make them in native code, each printed
 * as one JSON line of what it found:
 *   maps-fopen  — /proc/self/maps line by line with fgets, looking for "frida" / "gum-js" / "linjector";
 *   maps-open   — the same map through open + read in blocks (strstr over the buffer);
 *   threads     — /proc/self/task listed with opendir/readdir, each thread's comm read with open + read,
 *                 looking for gum-js-loop, gmain, gdbus, pool-frida; the number of threads too (the program
 *                 itself runs two: main and "worker");
 *   tid-scan    — /proc/self/task/TID/comm tried for the thread ids after the process id (threads left out
 *                 of the listing are found this way): how many exist, and suspicious names;
 *   comm-fopen  — its own worker thread's comm through fopen (must still say "worker");
 *   port        — connect() to 127.0.0.1:27042 (frida-server's default port): connected or the errno;
 *   server-file — access() of /data/local/tmp/frida-server.
 * The counts of lines naming the program itself and libc are printed too: what stealth must not change.
 * With `segv` or `abort` as its argument it then dies the way a protection kills an app that found Frida. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *MARKERS[] = {"frida", "gum-js", "linjector", "gmain", "gdbus", "pool-frida", NULL};

static int suspicious(const char *text) {
    for (int index = 0; MARKERS[index] != NULL; index++) {
        if (strstr(text, MARKERS[index]) != NULL) {
            return 1;
        }
    }
    return 0;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int finished = 0;
static pid_t worker_tid = 0;

static void *worker(void *unused) {
    (void)unused;
    pthread_setname_np(pthread_self(), "worker");
    pthread_mutex_lock(&lock);
    worker_tid = (pid_t)syscall(SYS_gettid);
    pthread_cond_broadcast(&done);
    while (!finished) {
        pthread_cond_wait(&done, &lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void maps_fopen(const char *self_name) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        printf("{\"check\": \"maps-fopen\", \"error\": %d}\n", errno);
        return;
    }
    char line[1024];
    int total = 0, found = 0, self_lines = 0, libc_lines = 0;
    while (fgets(line, sizeof line, maps) != NULL) {
        total++;
        found += suspicious(line);
        self_lines += strstr(line, self_name) != NULL;
        libc_lines += strstr(line, "libc.so") != NULL;
    }
    fclose(maps);
    printf("{\"check\": \"maps-fopen\", \"found\": %d, \"lines\": %d, \"self_lines\": %d, \"libc_lines\": %d}\n",
           found, total, self_lines, libc_lines);
}

static void maps_open(void) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("{\"check\": \"maps-open\", \"error\": %d}\n", errno);
        return;
    }
    size_t size = 0, capacity = 1 << 16;
    char *text = malloc(capacity + 1);
    ssize_t count;
    while ((count = read(fd, text + size, capacity - size)) > 0) {
        size += (size_t)count;
        if (size == capacity) {
            capacity *= 2;
            text = realloc(text, capacity + 1);
        }
    }
    text[size] = '\0';
    int cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
    close(fd);
    printf("{\"check\": \"maps-open\", \"found\": %d, \"bytes\": %zu, \"cloexec\": %d}\n", suspicious(text), size, cloexec);
    free(text);
}

static void threads(void) {
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) {
        printf("{\"check\": \"threads\", \"error\": %d}\n", errno);
        return;
    }
    struct dirent *entry;
    int count = 0, found = 0, worker_seen = 0;
    char names[4096] = "";
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        count++;
        char path[256], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            ssize_t length = read(fd, name, sizeof name - 1);
            name[length > 0 ? length : 0] = '\0';
            close(fd);
        }
        name[strcspn(name, "\n")] = '\0';
        found += suspicious(name);
        worker_seen += strcmp(name, "worker") == 0;
        if (strlen(names) + strlen(name) + 4 < sizeof names) {
            strcat(names, names[0] ? ", " : "");
            strcat(names, name);
        }
    }
    closedir(tasks);
    printf("{\"check\": \"threads\", \"found\": %d, \"count\": %d, \"worker_seen\": %d, \"names\": \"%s\"}\n",
           found, count, worker_seen, names);
}

/* Threads hidden from the listing are still found by trying the thread ids after the process's own. */
static void tid_scan(void) {
    int count = 0, found = 0;
    pid_t self = getpid();
    for (pid_t tid = self; tid < self + 400; tid++) {
        char path[128], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        ssize_t length = read(fd, name, sizeof name - 1);
        name[length > 0 ? length : 0] = '\0';
        close(fd);
        count++;
        found += suspicious(name);
    }
    printf("{\"check\": \"tid-scan\", \"found\": %d, \"count\": %d}\n", found, count);
}

static void comm_fopen(void) {
    char path[128], name[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)worker_tid);
    FILE *comm = fopen(path, "r");
    if (comm == NULL) {
        printf("{\"check\": \"comm-fopen\", \"error\": %d}\n", errno);
        return;
    }
    if (fgets(name, sizeof name, comm) == NULL) {
        name[0] = '\0';
    }
    fclose(comm);
    name[strcspn(name, "\n")] = '\0';
    printf("{\"check\": \"comm-fopen\", \"name\": \"%s\"}\n", name);
}

static void port(void) {
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(27042)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    int result = connect(sock, (struct sockaddr *)&address, sizeof address);
    int error = result == 0 ? 0 : errno;
    close(sock);
    printf("{\"check\": \"port\", \"connected\": %d, \"errno\": %d}\n", result == 0, error);
}

static void server_file(void) {
    int result = access("/data/local/tmp/frida-server", F_OK);
    printf("{\"check\": \"server-file\", \"exists\": %d}\n", result == 0);
}

/* `segv handled`: the program's own SIGSEGV handler (crash reporters have one) must still run. */
static void own_handler(int signal_number) {
    char line[64];
    int length = snprintf(line, sizeof line, "{\"check\": \"own-handler\", \"signal\": %d}\n", signal_number);
    write(1, line, (size_t)length);
    _exit(42);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *self_name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    pthread_mutex_lock(&lock);
    while (worker_tid == 0) {
        pthread_cond_wait(&done, &lock);
    }
    pthread_mutex_unlock(&lock);
    maps_fopen(self_name);
    maps_open();
    threads();
    tid_scan();
    comm_fopen();
    port();
    server_file();
    pthread_mutex_lock(&lock);
    finished = 1;
    pthread_cond_broadcast(&done);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    /* `hardened segv` / `hardened abort`: a protection that kills the app once it found something. */
    if (argc > 2 && strcmp(argv[2], "handled") == 0) {
        struct sigaction action = {.sa_handler = own_handler};
        sigaction(SIGSEGV, &action, NULL);
    }
    if (argc > 1 && strcmp(argv[1], "segv") == 0) {
        *(volatile int *)(uintptr_t)8 = 1;
    }
    if (argc > 1 && strcmp(argv[1], "abort") == 0) {
        abort();
    }
    return 0;
}
