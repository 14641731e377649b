"""The Frida agent on the host side: building the TypeScript bundle and talking to it."""
