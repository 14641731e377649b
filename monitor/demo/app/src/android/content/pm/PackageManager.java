package android.content.pm;

import java.util.List;

/** Stub of the abstract android.content.pm.PackageManager; android.app.ApplicationPackageManager implements it. */
public abstract class PackageManager {
    public abstract List<PackageInfo> getInstalledPackages(int flags);
    public abstract List<ApplicationInfo> getInstalledApplications(int flags);
    public abstract PackageInfo getPackageInfo(String packageName, int flags) throws NameNotFoundException;

    public static class NameNotFoundException extends Exception {
        public NameNotFoundException(String name) { super(name); }
    }
}
