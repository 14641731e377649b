package com.android.okhttp;

import java.io.IOException;
import java.net.Proxy;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;

/**
 * Stand-in for Android's com.android.okhttp.HttpHandler, the class Android's java.net.URL loads by name for
 * `http:` (Debian's Android packages have no okhttp; host ART's libcore finds this one on the boot class path,
 * where a phone's framework has okhttp). Never used on HotSpot, whose JDK has its own handlers.
 */
public class HttpHandler extends URLStreamHandler {
    @Override
    protected URLConnection openConnection(URL url) throws IOException {
        return new SocketHttpConnection(url);
    }

    @Override
    protected URLConnection openConnection(URL url, Proxy proxy) throws IOException {
        return new SocketHttpConnection(url);
    }

    @Override
    protected int getDefaultPort() {
        return 80;
    }
}
