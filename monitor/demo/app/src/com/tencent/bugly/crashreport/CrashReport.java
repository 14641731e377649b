package com.tencent.bugly.crashreport;

import android.content.Context;
import android.telephony.TelephonyManager;
import android.os.Build;
import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A fake crash reporter that is correctly started only after consent. Its upload pins the server's
 * certificate, as SDKs do: it trusts its own pins only (none of them the interception CA), so the
 * handshake with the capture proxy fails and nothing of the upload is decrypted — what a lab sees until
 * it runs with --unpin-tls.
 */
public final class CrashReport {
    private CrashReport() { }
    public static String initCrashReport(Context context) {
        TelephonyManager telephony = (TelephonyManager) context.getSystemService(Context.TELEPHONY_SERVICE);
        String device = Build.getSerial() + "/" + telephony.getSimOperator();
        upload("https://android.bugly.qq.com/rqd/async", "{\"d\":\"" + device + "\"}");
        return device;
    }

    private static void upload(String url, String body) {
        try {
            KeyStore pins = KeyStore.getInstance(KeyStore.getDefaultType());
            pins.load(null, null);  // the SDK's own pins would go here; the proxy's CA is never among them
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(pins);
            SSLContext pinned = SSLContext.getInstance("TLS");
            pinned.init(null, trust.getTrustManagers(), null);
            HttpsURLConnection connection = (HttpsURLConnection) new URL(url).openConnection();
            connection.setSSLSocketFactory(pinned.getSocketFactory());
            connection.setRequestMethod("POST");
            connection.setDoOutput(true);
            connection.setConnectTimeout(5000);
            connection.setReadTimeout(5000);
            try (OutputStream out = connection.getOutputStream()) { out.write(body.getBytes(StandardCharsets.UTF_8)); }
            System.out.println("[demo] crash report upload -> " + connection.getResponseCode());
        } catch (Exception | AssertionError | LinkageError refused) {
            // (the Errors: a runtime with no TLS provider, as host ART without Conscrypt, cannot build the pinned context)
            System.out.println("[demo] crash report upload refused: " + refused.getClass().getSimpleName());
        }
    }
}
