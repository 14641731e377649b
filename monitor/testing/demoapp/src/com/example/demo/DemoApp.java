package com.example.demo;

import android.app.ContextImpl;
import android.app.Dialog;
import android.content.ClipboardManager;
import android.content.Context;
import android.content.pm.PackageInfo;
import android.widget.Button;
import com.amap.api.location.AMapLocationClient;
import com.example.demo.net.Http;
import com.tencent.bugly.crashreport.CrashReport;
import com.umeng.commonsdk.UMConfigure;
import java.util.List;

/**
 * The built-in demo app. It behaves like the apps regulators keep finding: an analytics SDK reads
 * device IDs and uploads them, and the app uploads the installed-app list, all before the privacy
 * dialog is answered; after the user taps 同意 it collects what it needs.
 *
 * Usage: DemoApp [--consent agree|refuse|none] [--pause-ms N]
 */
public final class DemoApp {
    public static final String PACKAGE = "com.example.demo";

    public static void main(String[] args) throws Exception {
        // The very first statement reads a device ID: a monitor that hooks late misses it.
        String firstId = android.provider.Settings.Secure.getString(null, "android_id");
        Context context = new ContextImpl(PACKAGE);
        String consent = "agree";
        long pauseMs = 300;
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (args[i].equals("--consent")) consent = args[i + 1];
            if (args[i].equals("--pause-ms")) pauseMs = Long.parseLong(args[i + 1]);
        }

        // Application.onCreate: SDKs initialised eagerly, before any consent (the violation).
        UMConfigure.preInit(context, "5f1e2d3c4b5a69788796a5b4");
        List<PackageInfo> installed = context.getPackageManager().getInstalledPackages(0);
        StringBuilder names = new StringBuilder();
        for (PackageInfo info : installed) names.append(names.length() == 0 ? "" : ",").append(info.packageName);
        Http.post("https://collect.adtrack-demo.cn/v2/apps", "{\"apps\":\"" + names + "\"}", "application/json");

        MainActivity activity = new MainActivity();
        activity.performResume();
        Dialog privacy = new Dialog("隐私政策");
        privacy.show();
        Thread.sleep(pauseMs);

        final boolean[] agreed = {false};
        Button agree = new Button("同意");
        agree.setOnClickListener(view -> agreed[0] = true);
        Button refuse = new Button("不同意");
        refuse.setOnClickListener(view -> agreed[0] = false);
        if (consent.equals("agree")) agree.performClick();
        else if (consent.equals("refuse")) refuse.performClick();
        privacy.dismiss();
        Thread.sleep(pauseMs);

        if (agreed[0]) {
            // After consent: the features the user asked for.
            CrashReport.initCrashReport(context);
            String where = new AMapLocationClient(context).getLastKnownLocation();
            CharSequence clip = ((ClipboardManager) context.getSystemService(Context.CLIPBOARD_SERVICE)).getText();
            Http.post("https://api.demo-app.example.com/v1/nearby", "{\"loc\":\"" + where + "\"}", "application/json");
            System.out.println("[demo] consented; location " + where + ", clipboard " + clip.length() + " chars");
        } else {
            // The app itself stays quiet, but its analytics SDK does not take no for an answer.
            if (consent.equals("refuse")) UMConfigure.heartbeat(context);
            System.out.println("[demo] no consent; the app stays quiet");
        }
        activity.performPause();
        System.out.println("[demo] done (first id " + firstId.length() + " chars)");
    }
}
