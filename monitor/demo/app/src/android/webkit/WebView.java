package android.webkit;

import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;

/**
 * Stub of android.webkit.WebView. loadUrl fetches the page on its own thread, through the system's
 * proxy, as Chromium's network stack does for a real WebView; loadData shows HTML the app hands it.
 */
public class WebView {
    private volatile String html = "";

    public void loadUrl(final String url) {
        // Java 8 (an anonymous class, a read loop): the same stub runs on Android 10's ART, which has no
        // lambdas without desugaring and no InputStream.readAllBytes.
        Thread loader = new Thread(new Runnable() { public void run() {
            try {
                HttpURLConnection connection = (HttpURLConnection) new URL(url).openConnection();
                connection.setConnectTimeout(5000);
                connection.setReadTimeout(5000);
                try (InputStream in = connection.getInputStream()) {
                    java.io.ByteArrayOutputStream page = new java.io.ByteArrayOutputStream();
                    byte[] buffer = new byte[8192];
                    for (int read = in.read(buffer); read != -1; read = in.read(buffer)) page.write(buffer, 0, read);
                    html = new String(page.toByteArray(), java.nio.charset.StandardCharsets.UTF_8);
                }
                System.out.println("[demo] WebView loaded " + url + " (" + html.length() + " chars)");
            } catch (Exception error) {
                System.out.println("[demo] WebView could not load " + url + ": " + error);
            }
        } }, "WebViewLoader");
        loader.start();
        try { loader.join(6000); } catch (InterruptedException interrupted) { Thread.currentThread().interrupt(); }
    }

    public void loadUrl(String url, java.util.Map<String, String> additionalHttpHeaders) { loadUrl(url); }

    public void loadData(String data, String mimeType, String encoding) { html = data; }

    public void loadDataWithBaseURL(String baseUrl, String data, String mimeType, String encoding, String historyUrl) { html = data; }
}
