"""Android devices over adb: discovery and root (adb), doctor, journal-backed setup/restore
(session, journal), frida-server, CA, clock offset, app control and logcat (app), APK identity (apk)."""
