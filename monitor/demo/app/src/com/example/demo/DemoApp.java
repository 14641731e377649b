package com.example.demo;

import android.app.ContextImpl;
import android.app.Dialog;
import android.content.ClipboardManager;
import android.content.Context;
import android.content.pm.PackageInfo;
import com.amap.api.location.AMapLocationClient;
import com.igexin.sdk.PushManager;
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
 * Without --consent and with CONSENTMON_CONTROL_PORT set, a scenario drives it (see ControlServer).
 */
public final class DemoApp {
    public static final String PACKAGE = "com.example.demo";

    public static void main(String[] args) throws Exception {
        // The very first statement reads a device ID: a monitor that hooks late misses it.
        String firstId = android.provider.Settings.Secure.getString(null, "android_id");
        final Context context = new ContextImpl(PACKAGE);
        String consent = "agree";
        boolean consentGiven = false;
        long pauseMs = 300;
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (args[i].equals("--consent")) { consent = args[i + 1]; consentGiven = true; }
            if (args[i].equals("--pause-ms")) pauseMs = Long.parseLong(args[i + 1]);
        }

        // Application.onCreate: SDKs initialised eagerly, before any consent (the violation).
        UMConfigure.preInit(context, "5f1e2d3c4b5a69788796a5b4");
        // The push SDK opens its own long connection, straight to its server, not through the proxy.
        PushManager.getInstance().initialize(context);
        List<PackageInfo> installed = context.getPackageManager().getInstalledPackages(0);
        StringBuilder names = new StringBuilder();
        for (PackageInfo info : installed) names.append(names.length() == 0 ? "" : ",").append(info.packageName);
        Http.post("https://collect.adtrack-demo.cn/v2/apps", "{\"apps\":\"" + names + "\"}", "application/json");

        MainActivity activity = new MainActivity();
        activity.performResume();
        Dialog privacy = new Dialog("隐私政策");
        privacy.show();
        // Crash reporting starts inside the 同意 click handler: its reads come after the consent.
        // (Java 8, an anonymous class: the same app runs on Android 10's ART, which runs no lambdas.)
        Screen screen = new Screen(activity, privacy, new Runnable() {
            public void run() { CrashReport.initCrashReport(context); }
        });

        String controlPort = System.getenv("CONSENTMON_CONTROL_PORT");
        boolean driven = !consentGiven && controlPort != null && !controlPort.isEmpty();
        Boolean agreed;
        if (driven) {
            // A scenario decides: it reads the screen and taps 同意 or 不同意 through the control channel.
            new ControlServer(Integer.parseInt(controlPort), screen).start();
            System.out.println("[demo] waiting for the user on control port " + controlPort);
            agreed = screen.awaitDecision(180_000);
        } else {
            Thread.sleep(pauseMs);
            if (consent.equals("agree")) screen.agree.performClick();
            else if (consent.equals("refuse")) screen.refuse.performClick();
            agreed = consent.equals("agree") ? Boolean.TRUE : consent.equals("refuse") ? Boolean.FALSE : null;
        }
        Thread.sleep(pauseMs);

        AMapLocationClient locator = new AMapLocationClient(context);
        if (Boolean.TRUE.equals(agreed)) {
            // After consent: the features the user asked for.
            String where = locator.getLastKnownLocation();
            CharSequence clip = ((ClipboardManager) context.getSystemService(Context.CLIPBOARD_SERVICE)).getText();
            Http.tryHttp3("api.demo-app.example.com");
            Http.post("https://api.demo-app.example.com/v1/nearby", "{\"loc\":\"" + where + "\"}", "application/json");
            System.out.println("[demo] consented; location " + where + ", clipboard " + clip.length() + " chars");
        } else {
            // The app itself stays quiet, but its analytics SDK does not take no for an answer.
            if (Boolean.FALSE.equals(agreed)) UMConfigure.heartbeat(context);
            System.out.println("[demo] no consent; the app stays quiet");
        }
        if (driven) {
            // Until the scenario ends the app: in the background the location SDK keeps polling (a
            // background collection the user cannot see), in the foreground it is idle.
            while (!screen.awaitQuit(1000)) {
                if (screen.inBackground() && Boolean.TRUE.equals(agreed)) locator.getLastKnownLocation();
            }
        }
        activity.performPause();
        System.out.println("[demo] done (first id " + firstId.length() + " chars)");
    }
}
