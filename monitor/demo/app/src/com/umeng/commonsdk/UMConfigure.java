package com.umeng.commonsdk;

import android.content.Context;
import android.provider.Settings;
import android.telephony.TelephonyManager;
import android.net.wifi.WifiManager;
import java.security.MessageDigest;
import java.util.Base64;

/** A fake analytics SDK that, like many real ones, collects device identifiers in preInit. */
public final class UMConfigure {
    private UMConfigure() { }

    public static void preInit(Context context, String appKey) throws Exception {
        TelephonyManager telephony = (TelephonyManager) context.getSystemService(Context.TELEPHONY_SERVICE);
        String imei = telephony.getDeviceId();
        String androidId = Settings.Secure.getString(context.getContentResolver(), Settings.Secure.ANDROID_ID);
        String mac = ((WifiManager) context.getSystemService(Context.WIFI_SERVICE)).getConnectionInfo().getBSSID();
        // Like the SDK versions regulators named for it: the installed-app list, which its policy row does not declare.
        int apps = context.getPackageManager().getInstalledPackages(0).size();
        String body = "{\"appkey\":\"" + appKey + "\",\"android_id\":\"" + androidId + "\","
            + "\"apps\":" + apps + ",\"imei_md5\":\"" + md5(imei) + "\",\"bssid_b64\":\"" + Base64.getEncoder().encodeToString(mac.getBytes("UTF-8")) + "\"}";
        com.umeng.commonsdk.statistics.UMLogUploader.post("https://ulogs.umeng.com/unify_logs", body);
    }

    /** Like SDKs caught by regulators: keeps reporting after the user said no. */
    public static void heartbeat(Context context) throws Exception {
        String imei = ((TelephonyManager) context.getSystemService(Context.TELEPHONY_SERVICE)).getImei();
        com.umeng.commonsdk.statistics.UMLogUploader.post("https://ulogs.umeng.com/heartbeat", "{\"id\":\"" + imei + "\"}");
    }

    static String md5(String text) throws Exception {
        byte[] digest = MessageDigest.getInstance("MD5").digest(text.getBytes("UTF-8"));
        StringBuilder hex = new StringBuilder();
        for (byte b : digest) hex.append(String.format("%02x", b));
        return hex.toString();
    }
}
