package android.app;

import android.accounts.AccountManager;
import android.content.ClipboardManager;
import android.content.ContentResolver;
import android.content.Context;
import android.content.pm.PackageManager;
import android.location.LocationManager;
import android.net.wifi.WifiManager;
import android.telephony.TelephonyManager;

/** The Context implementation: hands out the stub system services by their real names. */
public class ContextImpl extends Context {
    private final String packageName;
    private final ContentResolver resolver = new ContentResolver() { };
    private final PackageManager packageManager;
    public ContextImpl(String packageName) { this.packageName = packageName; this.packageManager = new ApplicationPackageManager(packageName); }
    public Object getSystemService(String name) {
        switch (name) {
            case TELEPHONY_SERVICE: return new TelephonyManager();
            case WIFI_SERVICE: return new WifiManager();
            case LOCATION_SERVICE: return new LocationManager();
            case CLIPBOARD_SERVICE: return new ClipboardManager();
            case ACTIVITY_SERVICE: return new ActivityManager();
            case ACCOUNT_SERVICE: return new AccountManager();
            default: return null;
        }
    }
    public ContentResolver getContentResolver() { return resolver; }
    public PackageManager getPackageManager() { return packageManager; }
    public String getPackageName() { return packageName; }
}
