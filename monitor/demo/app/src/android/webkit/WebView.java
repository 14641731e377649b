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

    public void loadUrl(String url) {
        Thread loader = new Thread(() -> {
            try {
                HttpURLConnection connection = (HttpURLConnection) new URL(url).openConnection();
                connection.setConnectTimeout(5000);
                connection.setReadTimeout(5000);
                try (InputStream in = connection.getInputStream()) {
                    html = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                }
                System.out.println("[demo] WebView loaded " + url + " (" + html.length() + " chars)");
            } catch (Exception error) {
                System.out.println("[demo] WebView could not load " + url + ": " + error);
            }
        }, "WebViewLoader");
        loader.start();
        try { loader.join(6000); } catch (InterruptedException interrupted) { Thread.currentThread().interrupt(); }
    }

    public void loadUrl(String url, java.util.Map<String, String> additionalHttpHeaders) { loadUrl(url); }

    public void loadData(String data, String mimeType, String encoding) { html = data; }

    public void loadDataWithBaseURL(String baseUrl, String data, String mimeType, String encoding, String historyUrl) { html = data; }
}
