package com.android.okhttp;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.security.cert.Certificate;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLPeerUnverifiedException;

/** An https: connection on host ART: HTTP/1.1 over a java.net.Socket, see SocketHttpConnection. */
final class SocketHttpsConnection extends HttpsURLConnection {
    private final SocketHttpConnection http;

    SocketHttpsConnection(URL url) {
        super(url);
        http = new SocketHttpConnection(url);
    }

    @Override public void connect() throws IOException { sync(); http.connect(); connected = true; }
    private void sync() throws java.net.ProtocolException {
        if (!http.isConnected()) http.setRequestMethod(getRequestMethod());   // the method the caller set on this wrapper
    }

    @Override public void disconnect() { http.disconnect(); }
    @Override public boolean usingProxy() { return http.usingProxy(); }
    @Override public void setRequestProperty(String key, String value) { http.setRequestProperty(key, value); }
    @Override public String getRequestProperty(String key) { return http.getRequestProperty(key); }
    @Override public void setConnectTimeout(int timeout) { http.setConnectTimeout(timeout); }
    @Override public void setReadTimeout(int timeout) { http.setReadTimeout(timeout); }
    @Override public void setDoOutput(boolean output) { super.setDoOutput(output); http.setDoOutput(output); }
    @Override public OutputStream getOutputStream() throws IOException { sync(); return http.getOutputStream(); }
    @Override public int getResponseCode() throws IOException { sync(); return http.getResponseCode(); }
    @Override public InputStream getInputStream() throws IOException { sync(); return http.getInputStream(); }
    @Override public InputStream getErrorStream() { return http.getErrorStream(); }
    @Override public String getHeaderField(String name) { return http.getHeaderField(name); }
    @Override public String getCipherSuite() { throw new IllegalStateException("no TLS on this runtime: plain HTTP to the proxy"); }
    @Override public Certificate[] getLocalCertificates() { return null; }
    @Override public Certificate[] getServerCertificates() throws SSLPeerUnverifiedException {
        throw new SSLPeerUnverifiedException("no TLS on this runtime: plain HTTP to the proxy");
    }
}
