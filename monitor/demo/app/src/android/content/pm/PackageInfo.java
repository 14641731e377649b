package android.content.pm;

public class PackageInfo {
    public String packageName;
    public String versionName;
    public PackageInfo(String packageName, String versionName) { this.packageName = packageName; this.versionName = versionName; }
    public String toString() { return "PackageInfo{" + packageName + "}"; }
}
