/* Bionic's __system_property_get for a Linux host: a shared library with the same export, so the
 * native catalogue entry is exercised the way it hooks libc.so on Android. Values of a test phone. */
#include <string.h>

int __system_property_get(const char *name, char *value) {
    const char *found = "";
    if (strcmp(name, "ro.serialno") == 0) found = "R58M12ABCDE";
    else if (strcmp(name, "ro.build.version.sdk") == 0) found = "33";
    strcpy(value, found);
    return (int) strlen(found);
}
