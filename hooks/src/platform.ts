// The platform's own code among a call's callers (stealth.ts, native.ts).

// Code that reads the process's own map to manage memory, never to look for Frida: glibc's and Bionic's
// pthread_getattr_np (the main thread's stack: its size is where the mapping below it ends), the dynamic
// loader, the VMs and their unwinders. Hidden ranges there made ART guard a "stack" that ran over Frida's
// memory and die ("HandleUnexpectedSignal reentered", host ART 10, measured): they get the true map. (Their
// calls are not probes either: native.ts does not record them.)
export const SYSTEM_READERS = /^(libc\.so(\.6)?|ld-linux[^/]*\.so[.\d]*|ld-musl[^/]*|linker(64)?|libart[a-z]*\.so|libjvm\.so|libdvm\.so|libbacktrace\.so|libunwindstack\.so|libprocinfo\.so|libsigchain\.so)$/;

