package android.content;

/** Stub of android.content.Context: the entry to system services, as on a device. */
public abstract class Context {
    public static final String TELEPHONY_SERVICE = "phone";
    public static final String WIFI_SERVICE = "wifi";
    public static final String LOCATION_SERVICE = "location";
    public static final String CLIPBOARD_SERVICE = "clipboard";
    public static final String ACTIVITY_SERVICE = "activity";
    public static final String ACCOUNT_SERVICE = "account";
    public abstract Object getSystemService(String name);
    public abstract ContentResolver getContentResolver();
    public abstract android.content.pm.PackageManager getPackageManager();
    public abstract String getPackageName();
}
