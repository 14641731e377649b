package com.android.okhttp;

import java.io.IOException;
import java.net.Proxy;
import java.net.URL;
import java.net.URLConnection;

/**
 * Stand-in for Android's com.android.okhttp.HttpsHandler (`https:`). Host ART has no TLS provider (no
 * Conscrypt in Debian): the request goes to the capture proxy as plain HTTP naming the https URL
 * (absolute form), and the proxy makes the TLS connection onward. See SocketHttpConnection.
 */
public final class HttpsHandler extends HttpHandler {
    @Override
    protected URLConnection openConnection(URL url) throws IOException {
        return new SocketHttpsConnection(url);
    }

    @Override
    protected URLConnection openConnection(URL url, Proxy proxy) throws IOException {
        return new SocketHttpsConnection(url);
    }

    @Override
    protected int getDefaultPort() {
        return 443;
    }
}
