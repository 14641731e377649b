package com.android.okhttp;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * HTTP/1.1 over a java.net.Socket, the host-ART stand-in for Android's okhttp (one request per connection,
 * `Connection: close`). The proxy is the JVM's (`http.proxyHost`/`https.proxyHost` properties) or, as
 * command-line clients take it, the `HTTPS_PROXY`/`HTTP_PROXY` variable; without one the server is
 * connected directly. There is no TLS on host ART (no security provider at all without Conscrypt), so an
 * https: URL goes to the proxy as plain HTTP in absolute form (`POST https://host/path`): the capture
 * proxy records it as the https request it names and opens TLS onward; without a proxy it fails.
 * The socket's connect is what the agent's connect hooks see (Socket.connect), with the caller's stack.
 */
final class SocketHttpConnection extends java.net.HttpURLConnection {
    private final Map<String, String> headers = new LinkedHashMap<String, String>();
    private final Map<String, String> responseHeaders = new LinkedHashMap<String, String>();
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private Socket socket;
    private byte[] response;
    private boolean absoluteForm;

    SocketHttpConnection(URL url) {
        super(url);
    }

    @Override public void setRequestProperty(String key, String value) { headers.put(key, value); }
    @Override public void addRequestProperty(String key, String value) { headers.put(key, value); }
    @Override public String getRequestProperty(String key) { return headers.get(key); }
    @Override public boolean usingProxy() { return absoluteForm; }
    boolean isConnected() { return connected; }

    @Override
    public void connect() throws IOException {
        if (socket != null) return;
        String host = url.getHost();
        int port = url.getPort() != -1 ? url.getPort() : url.getDefaultPort();
        boolean https = "https".equals(url.getProtocol());
        InetSocketAddress proxy = proxyFor(https);
        if (proxy == null && https) {
            throw new IOException("no TLS on this runtime and no proxy to hand " + url + " to");
        }
        absoluteForm = proxy != null;
        socket = new Socket();
        socket.setSoTimeout(getReadTimeout());
        socket.connect(proxy != null ? proxy : new InetSocketAddress(host, port), getConnectTimeout());
        connected = true;
    }

    private static InetSocketAddress proxyFor(boolean https) {
        String host = System.getProperty(https ? "https.proxyHost" : "http.proxyHost");
        if (host != null && !host.isEmpty()) {
            String port = System.getProperty(https ? "https.proxyPort" : "http.proxyPort", "80");
            return new InetSocketAddress(host, Integer.parseInt(port));
        }
        String variable = System.getenv(https ? "HTTPS_PROXY" : "HTTP_PROXY");
        if (variable == null || variable.isEmpty()) return null;
        URI proxy = URI.create(variable.contains("://") ? variable : "http://" + variable);
        return new InetSocketAddress(proxy.getHost(), proxy.getPort() != -1 ? proxy.getPort() : 80);
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
        if (!getDoOutput()) throw new IOException("setDoOutput(true) first");
        if ("GET".equals(method)) method = "POST";
        return body;
    }

    private void exchange() throws IOException {
        if (response != null) return;
        connect();
        String target = absoluteForm ? url.toExternalForm() : (url.getFile().isEmpty() ? "/" : url.getFile());
        int defaultPort = url.getDefaultPort();
        String hostHeader = url.getPort() == -1 || url.getPort() == defaultPort ? url.getHost() : url.getHost() + ":" + url.getPort();
        StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: " + hostHeader + "\r\n");
        for (Map.Entry<String, String> header : headers.entrySet()) head.append(header.getKey()).append(": ").append(header.getValue()).append("\r\n");
        byte[] payload = body.toByteArray();
        if (payload.length > 0 || "POST".equals(method) || "PUT".equals(method)) head.append("Content-Length: ").append(payload.length).append("\r\n");
        head.append("Connection: close\r\n\r\n");
        OutputStream out = socket.getOutputStream();
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.write(payload);
        out.flush();
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        for (int read = in.read(buffer); read != -1; read = in.read(buffer)) all.write(buffer, 0, read);
        socket.close();
        parse(all.toByteArray());
    }

    private void parse(byte[] raw) throws IOException {
        int end = -1;
        for (int i = 0; i + 3 < raw.length; i++) {
            if (raw[i] == '\r' && raw[i + 1] == '\n' && raw[i + 2] == '\r' && raw[i + 3] == '\n') { end = i; break; }
        }
        if (end < 0) throw new IOException("no HTTP response from " + url.getHost());
        String[] lines = new String(raw, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
        String[] status = lines[0].split(" ", 3);
        responseCode = Integer.parseInt(status[1]);
        responseMessage = status.length > 2 ? status[2] : "";
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) responseHeaders.put(lines[i].substring(0, colon).trim().toLowerCase(), lines[i].substring(colon + 1).trim());
        }
        byte[] content = new byte[raw.length - end - 4];
        System.arraycopy(raw, end + 4, content, 0, content.length);
        response = "chunked".equalsIgnoreCase(responseHeaders.get("transfer-encoding")) ? unchunk(content) : content;
    }

    private static byte[] unchunk(byte[] chunked) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int at = 0;
        while (at < chunked.length) {
            int lineEnd = at;
            while (lineEnd + 1 < chunked.length && !(chunked[lineEnd] == '\r' && chunked[lineEnd + 1] == '\n')) lineEnd++;
            String size = new String(chunked, at, lineEnd - at, StandardCharsets.ISO_8859_1).split(";")[0].trim();
            int length = size.isEmpty() ? 0 : Integer.parseInt(size, 16);
            if (length == 0) break;
            out.write(chunked, lineEnd + 2, Math.min(length, chunked.length - lineEnd - 2));
            at = lineEnd + 2 + length + 2;
        }
        return out.toByteArray();
    }

    @Override
    public int getResponseCode() throws IOException {
        exchange();
        return responseCode;
    }

    @Override
    public InputStream getInputStream() throws IOException {
        exchange();
        if (responseCode >= 400) throw new IOException("HTTP " + responseCode + " from " + url);
        return new ByteArrayInputStream(response);
    }

    @Override
    public InputStream getErrorStream() {
        return response != null && responseCode >= 400 ? new ByteArrayInputStream(response) : null;
    }

    @Override
    public String getHeaderField(String name) {
        return name == null ? null : responseHeaders.get(name.toLowerCase());
    }

    @Override
    public void disconnect() {
        try {
            if (socket != null) socket.close();
        } catch (IOException ignored) {
            // closing only
        }
    }
}
