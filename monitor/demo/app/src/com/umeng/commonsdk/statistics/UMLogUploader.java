package com.umeng.commonsdk.statistics;

import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;

/** The SDK's own uploader, as real SDKs ship one: its frames, not the app's, open the connection. */
public final class UMLogUploader {
    private UMLogUploader() { }

    public static void post(String url, String body) {
        try {
            HttpURLConnection connection = (HttpURLConnection) new URL(url).openConnection();
            connection.setRequestMethod("POST");
            connection.setDoOutput(true);
            connection.setConnectTimeout(5000);
            connection.setReadTimeout(5000);
            try (OutputStream out = connection.getOutputStream()) { out.write(body.getBytes(StandardCharsets.UTF_8)); }
            System.out.println("[umeng] upload " + url + " -> " + connection.getResponseCode());
        } catch (Exception error) {
            System.out.println("[umeng] upload " + url + " failed: " + error);
        }
    }
}
