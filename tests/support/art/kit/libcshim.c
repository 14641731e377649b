/* Linked into the launcher after glibc, as a module named "libc.so" (SONAME and file name): frida-java-bridge
 * looks up Android's libc by that module name (Process.getModuleByName("libc.so")) and reads the API
 * level with __system_property_get, a global export here as in bionic. The bridge resolves the functions
 * below in this module; each forwards to glibc's own (RTLD_NEXT), and glibc, first in the lookup order,
 * serves everyone else.
 * The properties are those of Android 10 (API level 29), the runtime this shim runs with. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

int __system_property_get(const char* name, char* value) {
    const char* answer = "";
    if (strcmp(name, "ro.build.version.sdk") == 0) answer = "29";
    else if (strcmp(name, "ro.build.version.codename") == 0) answer = "REL";
    else if (strcmp(name, "ro.build.version.release") == 0) answer = "10";
    strcpy(value, answer);
    return (int)strlen(answer);
}

static void* next(const char* symbol) { return dlsym(RTLD_NEXT, symbol); }

void free(void* pointer) {
    static void (*real)(void*);
    if (real == NULL) real = next("free");
    real(pointer);
}

unsigned long strtoul(const char* text, char** end, int base) {
    static unsigned long (*real)(const char*, char**, int);
    if (real == NULL) real = next("strtoul");
    return real(text, end, base);
}

int socketpair(int domain, int type, int protocol, int pair[2]) {
    static int (*real)(int, int, int, int*);
    if (real == NULL) real = next("socketpair");
    return real(domain, type, protocol, pair);
}

int epoll_wait(int fd, struct epoll_event* events, int most, int timeout) {
    static int (*real)(int, struct epoll_event*, int, int);
    if (real == NULL) real = next("epoll_wait");
    return real(fd, events, most, timeout);
}
