/* consentmon's host launcher for Debian's ART 10: what `dalvikvm` is on a device, reduced to
 * JNI_CreateJavaVM + the system class loader + main.
 *
 *   dalvikvm [-X... -D... options] [-cp CLASSPATH] MainClass [args...]
 *
 * The launcher links shim/libc.so (kit/libcshim.c), after glibc: as on a phone, a module named libc.so
 * exporting __system_property_get is there from the first instruction, where Frida's Java bridge looks
 * for Android's libc (an agent loaded at spawn decides at load whether it is on Android). It links
 * libandroid_runtime.so too, mapped from the start as zygote has it (its JNI_OnLoad still runs when
 * android.os.Process loads it). An agent armed at spawn hooks libart's JNI_CreateJavaVM, as on HotSpot.
 *
 * Environment:
 *   CONSENTMON_ART_GATE    a FIFO: once the VM is up, the launcher reads one byte from it before it loads
 *                          the main class, so a test can attach an agent to a running VM whose program
 *                          has not yet run one instruction of its own.
 * Once main has returned, the launcher writes "[launcher] main returned (status N)" to stderr.
 * Exit codes: 0 main returned, 1 VM not created, 2 usage, 3 main class not found, 4 no main method,
 * 5 main threw, 6 gate unusable.
 */
#include <jni.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OPTIONS 128

static int wait_at_gate(void) {
    const char* gate = getenv("CONSENTMON_ART_GATE");
    if (gate == NULL || gate[0] == 0) return 0;
    int fd = open(gate, O_RDONLY);
    if (fd < 0) { perror("[launcher] gate"); return -1; }
    char byte;
    ssize_t got = read(fd, &byte, 1);
    close(fd);
    return got == 1 ? 0 : -1;
}

int main(int argc, char** argv) {
    JavaVMOption options[MAX_OPTIONS];
    static char classpath[8192];
    int count = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && count < MAX_OPTIONS; i++) {
        if (strcmp(argv[i], "-cp") == 0 || strcmp(argv[i], "-classpath") == 0) {
            if (++i >= argc) { fprintf(stderr, "[launcher] -cp needs a value\n"); return 2; }
            snprintf(classpath, sizeof classpath, "-Djava.class.path=%s", argv[i]);
            options[count].optionString = classpath;
        } else {
            options[count].optionString = argv[i];
        }
        options[count++].extraInfo = NULL;
    }
    if (i >= argc) { fprintf(stderr, "usage: dalvikvm [options] [-cp CLASSPATH] MainClass [args...]\n"); return 2; }
    const char* main_name = argv[i++];

    JavaVMInitArgs init = { .version = JNI_VERSION_1_6, .nOptions = count, .options = options, .ignoreUnrecognized = JNI_FALSE };
    JavaVM* vm;
    JNIEnv* env;
    if (JNI_CreateJavaVM(&vm, &env, &init) != JNI_OK) { fprintf(stderr, "[launcher] JNI_CreateJavaVM failed\n"); return 1; }
    if (wait_at_gate() != 0) return 6;

    /* The main class comes from the system class loader (java.class.path), as on a device. */
    jclass loader_class = (*env)->FindClass(env, "java/lang/ClassLoader");
    jmethodID system_loader = (*env)->GetStaticMethodID(env, loader_class, "getSystemClassLoader", "()Ljava/lang/ClassLoader;");
    jobject loader = (*env)->CallStaticObjectMethod(env, loader_class, system_loader);
    jmethodID load_class = (*env)->GetMethodID(env, loader_class, "loadClass", "(Ljava/lang/String;)Ljava/lang/Class;");
    jclass main_class = (jclass)(*env)->CallObjectMethod(env, loader, load_class, (*env)->NewStringUTF(env, main_name));
    if ((*env)->ExceptionCheck(env)) { (*env)->ExceptionDescribe(env); return 3; }
    jmethodID main_method = (*env)->GetStaticMethodID(env, main_class, "main", "([Ljava/lang/String;)V");
    if (main_method == NULL) { (*env)->ExceptionDescribe(env); return 4; }
    jobjectArray args = (*env)->NewObjectArray(env, argc - i, (*env)->FindClass(env, "java/lang/String"), NULL);
    for (int k = i; k < argc; k++) (*env)->SetObjectArrayElement(env, args, k - i, (*env)->NewStringUTF(env, argv[k]));
    (*env)->CallStaticVoidMethod(env, main_class, main_method, args);
    int status = 0;
    if ((*env)->ExceptionCheck(env)) { (*env)->ExceptionDescribe(env); status = 5; }
    /* A test host waits for this line: an attached agent keeps DestroyJavaVM waiting until it detaches. */
    fprintf(stderr, "[launcher] main returned (status %d)\n", status);
    /* As a device's launcher does: the VM ends when its last non-daemon thread has. */
    (*vm)->DetachCurrentThread(vm);
    (*vm)->DestroyJavaVM(vm);
    return status;
}
