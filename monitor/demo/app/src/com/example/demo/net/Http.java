package com.example.demo.net;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramSocket;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.URL;
import java.nio.charset.StandardCharsets;

/** POSTs through whatever proxy the JVM is configured with; failures are printed, never thrown. */
public final class Http {
    private Http() { }
    public static int post(String url, String body, String contentType) {
        try {
            HttpURLConnection connection = (HttpURLConnection) new URL(url).openConnection();
            connection.setRequestMethod("POST");
            connection.setDoOutput(true);
            connection.setConnectTimeout(5000);
            connection.setReadTimeout(5000);
            connection.setRequestProperty("Content-Type", contentType);
            try (OutputStream out = connection.getOutputStream()) { out.write(body.getBytes(StandardCharsets.UTF_8)); }
            int status = connection.getResponseCode();
            InputStream in = status < 400 ? connection.getInputStream() : connection.getErrorStream();
            if (in != null) {
                byte[] buffer = new byte[8192];
                while (in.read(buffer) != -1) { /* the answer is read and dropped */ }
                in.close();
            }
            System.out.println("[demo] POST " + url + " -> " + status);
            return status;
        } catch (Exception error) {
            System.out.println("[demo] POST " + url + " failed: " + error);
            return -1;
        }
    }

    /**
     * What an HTTP/3-capable client (Cronet) does first: a UDP socket to the server's port 443, QUIC, which
     * no HTTP proxy sees. The address is left unresolved on purpose: connect fails at once (no DNS, no
     * packet), after being recorded.
     */
    public static void tryHttp3(String host) {
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.connect(InetSocketAddress.createUnresolved(host, 443));
        } catch (Exception expected) {
            System.out.println("[demo] HTTP/3 to " + host + " not available: " + expected.getClass().getSimpleName());
        }
    }
}
