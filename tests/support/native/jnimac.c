/* JNI code of an SDK reading the MAC of an interface underneath its own Java class, the way native SDK
 * code does: ioctl(SIOCGIFHWADDR) and the sysfs address file. Loaded by JniProbe (tests/agent/test_native_java.py). */
#include <jni.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

JNIEXPORT jstring JNICALL Java_com_sdk_jni_DeviceInfo_macByIoctl(JNIEnv *env, jclass cls, jstring name) {
    const char *interface = (*env)->GetStringUTFChars(env, name, NULL);
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, interface, IFNAMSIZ - 1);
    (*env)->ReleaseStringUTFChars(env, name, interface);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char text[32] = "none";
    if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &request) == 0) {
        unsigned char *mac = (unsigned char *) request.ifr_hwaddr.sa_data;
        snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    }
    if (fd >= 0) {
        close(fd);
    }
    return (*env)->NewStringUTF(env, text);
}

JNIEXPORT jstring JNICALL Java_com_sdk_jni_DeviceInfo_macByFile(JNIEnv *env, jclass cls, jstring path) {
    const char *file = (*env)->GetStringUTFChars(env, path, NULL);
    int fd = open(file, O_RDONLY);
    (*env)->ReleaseStringUTFChars(env, path, file);
    char text[64] = "none";
    if (fd >= 0) {
        ssize_t length = read(fd, text, sizeof text - 1);
        text[length > 0 ? length : 0] = 0;
        text[strcspn(text, "\n")] = 0;
        close(fd);
    }
    return (*env)->NewStringUTF(env, text);
}

/* A protection's last resort once it found an instrument: a write to an unmapped page in its own native code
 * (tests/agent/test_crash_on_art.py). */
JNIEXPORT void JNICALL Java_com_sdk_jni_DeviceInfo_die(JNIEnv *env, jclass cls) {
    volatile int *nowhere = (volatile int *) 8;
    *nowhere = 1;
}
