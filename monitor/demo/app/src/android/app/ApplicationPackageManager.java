package android.app;

import android.content.pm.ApplicationInfo;
import android.content.pm.PackageInfo;
import android.content.pm.PackageManager;
import java.util.ArrayList;
import java.util.List;

/** The implementation class a device really runs for PackageManager calls. */
public class ApplicationPackageManager extends PackageManager {
    static final String[] INSTALLED = {
        "com.tencent.mm", "com.eg.android.AlipayGphone", "com.taobao.taobao", "com.sina.weibo",
        "com.ss.android.ugc.aweme", "com.example.demo",
    };
    private final String ownPackage;
    public ApplicationPackageManager(String ownPackage) { this.ownPackage = ownPackage; }
    public List<PackageInfo> getInstalledPackages(int flags) {
        List<PackageInfo> out = new ArrayList<>();
        for (String name : INSTALLED) out.add(new PackageInfo(name, "1.0"));
        return out;
    }
    public List<ApplicationInfo> getInstalledApplications(int flags) {
        List<ApplicationInfo> out = new ArrayList<>();
        for (String name : INSTALLED) out.add(new ApplicationInfo(name));
        return out;
    }
    public PackageInfo getPackageInfo(String packageName, int flags) throws NameNotFoundException {
        for (String name : INSTALLED) if (name.equals(packageName)) return new PackageInfo(name, "1.0");
        throw new NameNotFoundException(packageName);
    }
}
