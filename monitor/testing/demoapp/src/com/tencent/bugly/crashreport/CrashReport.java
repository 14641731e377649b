package com.tencent.bugly.crashreport;

import android.content.Context;
import android.telephony.TelephonyManager;
import android.os.Build;

/** A fake crash reporter that is correctly started only after consent. */
public final class CrashReport {
    private CrashReport() { }
    public static String initCrashReport(Context context) {
        TelephonyManager telephony = (TelephonyManager) context.getSystemService(Context.TELEPHONY_SERVICE);
        return Build.getSerial() + "/" + telephony.getSimOperator();
    }
}
