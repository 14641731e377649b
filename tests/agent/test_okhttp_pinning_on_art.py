"""OkHttp's certificate pinning in the app, on Android's own runtime (host ART 10, tests/support/art), with Debian's
real OkHttp 3.13 (libokhttp-java's okhttp.jar + okio.jar dexed into the app, lambdas desugared as D8 does for a
phone: kit/tools/Desugar.java).

What this shows on ART: the app side of tests/agent/test_okhttp_pinning.py. OkHttp's CertificatePinner is hooked
by the class watch as ART defines it (the app's dex, OkHttp in it, is loaded by a PathClassLoader made after start,
as LoadedApk makes it on a phone); a check that refuses is recorded (tls_failed at okhttp3.CertificatePinner.check,
the host as value, the exception, the stack from the app's call); one that passes is not; the app's output is the
same with and without the agent; and `--unpin-tls` lets both checks through, each bypass on record. And a plain
http: OkHttp request from the app reaches a loopback server, recorded as on HotSpot: OkHttpClient.newCall with
its URL and method, and the one java.net.Socket.connect under it with OkHttp's stack down to the app's call.

What host ART cannot show, and why: the handshake. Host ART has no TLS provider (no Conscrypt; libcore's
providers are stood in for with MD5 only, see tests/support/art/README.md), so no TLS connection is ever made and
OkHttp's RealConnection.connectTls never reaches its pin check. The app therefore calls
`CertificatePinner.check(host, chain)` itself, as connectTls does once a handshake is done, with the chain a
handshake would have given — here an empty one: OkHttp 3.13 refuses it for a pinned host exactly as a chain matching
no pin ("Certificate pinning failure!", SSLPeerUnverifiedException) and lets it through for a host without pins.
The proxy side (the client closing after the handshake with no request, the decrypted flow under `--unpin-tls`)
needs that handshake, and stays HotSpot-only (tests/agent/test_okhttp_pinning.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.agent.session import AgentOptions
from support.art import fixtures
from support.servers import LOOPBACK

pytestmark = [pytest.mark.frida, pytest.mark.timeout(900)]
art10 = fixtures.art10   # the host ART runtime (built on first use)

OKHTTP = [Path("/usr/share/java/okhttp.jar"), Path("/usr/share/java/okio.jar")]
PINNED, OPEN = "api.pinned.example", "open.example"
DEMO_SOURCES = Path(__file__).resolve().parents[2] / "monitor/demo/app/src"

APP = """
package com.example.pinned;

import java.security.cert.Certificate;
import java.util.Collections;
import javax.net.ssl.SSLPeerUnverifiedException;
import okhttp3.CertificatePinner;

public class App {
    public static void main(String[] args) {
        // The SDK pins its server's key.
        CertificatePinner pinner = new CertificatePinner.Builder()
            .add("%(pinned)s", "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").build();
        verify(pinner, "%(pinned)s");
        verify(pinner, "%(open)s");
    }

    // What OkHttp's RealConnection.connectTls does once the handshake is done, with the chain the handshake gave
    // (host ART has no TLS: no chain, which a pinned host refuses as it refuses a chain matching no pin).
    static void verify(CertificatePinner pinner, String host) {
        try {
            pinner.check(host, Collections.<Certificate>emptyList());
            System.out.println("passed " + host);
        } catch (SSLPeerUnverifiedException error) {
            System.out.println("refused " + host + " " + error.getClass().getName() + ": " + error.getMessage().split("\\n")[0]);
        }
    }
}
""" % {"pinned": PINNED, "open": OPEN}


UPLOAD = """
package com.example.pinned;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.*;

public class Upload {
    public static void main(String[] args) throws Exception {
        // Host ART has no TLS provider, so OkHttp cannot make its default socket factory: the client is given one of
        // its own, which an http: request never uses.
        OkHttpClient client = new OkHttpClient.Builder().sslSocketFactory(new NoTls(), new NoTrust()).build();
        Request request = new Request.Builder().url(args[0])
            .post(RequestBody.create(MediaType.get("application/json"), "{\\"imei\\":\\"867530912345675\\"}")).build();
        try (Response response = client.newCall(request).execute()) {
            System.out.println("status " + response.code() + " " + response.body().string());
        }
    }

    static final class NoTrust implements X509TrustManager {
        public void checkClientTrusted(X509Certificate[] chain, String type) { }
        public void checkServerTrusted(X509Certificate[] chain, String type) throws java.security.cert.CertificateException {
            throw new java.security.cert.CertificateException("no TLS on host ART");
        }
        public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }

    static final class NoTls extends SSLSocketFactory {
        public String[] getDefaultCipherSuites() { return new String[0]; }
        public String[] getSupportedCipherSuites() { return new String[0]; }
        public Socket createSocket(Socket s, String host, int port, boolean close) throws IOException { throw new IOException("no TLS"); }
        public Socket createSocket(String host, int port) throws IOException { throw new IOException("no TLS"); }
        public Socket createSocket(String host, int port, InetAddress local, int localPort) throws IOException { throw new IOException("no TLS"); }
        public Socket createSocket(InetAddress host, int port) throws IOException { throw new IOException("no TLS"); }
        public Socket createSocket(InetAddress host, int port, InetAddress local, int localPort) throws IOException { throw new IOException("no TLS"); }
    }
}
"""

# As on a phone, where LoadedApk makes the app's PathClassLoader after the process started (the agent is in before
# that): the launcher on the class path loads the app's dex — its code, OkHttp and Okio — through a PathClassLoader
# of its own, so OkHttp's classes are defined by it after start, and the class watch hooks them as they appear.
LAUNCHER = """
package com.example.launcher;
public class Launch {
    public static void main(String[] args) throws Exception {
        ClassLoader app = new dalvik.system.PathClassLoader(args[0], Launch.class.getClassLoader().getParent());
        String[] rest = java.util.Arrays.copyOfRange(args, 2, args.length);
        app.loadClass(args[1]).getMethod("main", String[].class).invoke(null, (Object) rest);
    }
}
"""


@pytest.fixture(scope="module")
def dexes(art10):
    from support.art.dex import dex_jar

    if not all(jar.exists() for jar in OKHTTP):
        pytest.skip("Debian's libokhttp-java is not installed (.ci/run installs it)")
    launcher = dex_jar(art10, {"com/example/launcher/Launch.java": LAUNCHER}, name="okhttp-pinning-launcher")
    app = dex_jar(art10, {"com/example/pinned/App.java": APP, "com/example/pinned/Upload.java": UPLOAD},
                  name="okhttp-pinning-app", libraries=OKHTTP)
    return launcher, app


def _run(art10, dexes, options: AgentOptions | None, main: str = "com.example.pinned.App", *args: str, boot=()):
    from support.art.agent import run_on_art

    launcher, app = dexes
    run = run_on_art(art10, "com.example.launcher.Launch", classpath=[launcher.dex], args=[str(app.dex), main, *args],
                     boot=boot, attach=options is not None, options=options)
    assert run.main_status() == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def runs(art10, dexes):
    plain = _run(art10, dexes, None)
    hooked = _run(art10, dexes, AgentOptions(importance_poll_ms=0, follow_children=False))
    return plain, hooked


REFUSED = f"refused {PINNED} javax.net.ssl.SSLPeerUnverifiedException: Certificate pinning failure!"


def test_on_art_okhttp_runs_and_the_app_sees_the_same_under_the_agent(runs) -> None:
    plain, hooked = runs
    assert plain.stdout_lines() == [REFUSED, f"passed {OPEN}"]
    assert hooked.stdout_lines() == plain.stdout_lines()


def test_on_art_the_refusing_pin_check_is_recorded_with_the_apps_stack_and_the_passing_one_is_not(runs) -> None:
    _, hooked = runs
    (check,) = [event for event in hooked.sink.hooks() if event["kind"] == "tls_failed"]
    assert check["api"] == "okhttp3.CertificatePinner.check" and check["value"] == PINNED
    assert check["payload"]["side"] == "app-pin-check" and check["payload"]["host"] == PINNED
    assert "javax.net.ssl.SSLPeerUnverifiedException: Certificate pinning failure!" in check["payload"]["threw"]
    assert check["stack"][0].startswith("com.example.pinned.App.verify(")
    assert check["stack"][1].startswith("com.example.pinned.App.main(")


def test_on_art_certificate_pinner_is_hooked_as_art_defines_it(runs) -> None:
    _, hooked = runs
    late = [event["payload"] for event in hooked.sink.events
            if event["kind"] == "hook_status" and event["payload"].get("scope") == "java-late"]
    assert [(item["class"], item["loader"]) for item in late if item["class"] == "okhttp3.CertificatePinner"] == [
        ("okhttp3.CertificatePinner", "dalvik.system.PathClassLoader")]
    stats = next(iter(hooked.summary.values()))["stats"]
    assert stats["class_watch_errors"] == 0, stats["class_watch_last_error"]


def test_on_art_unpin_tls_lets_both_checks_through_and_says_so(art10, dexes) -> None:
    run = _run(art10, dexes, AgentOptions(importance_poll_ms=0, follow_children=False, unpin_tls=True))
    assert run.stdout_lines() == [f"passed {PINNED}", f"passed {OPEN}"]
    bypasses = [event for event in run.sink.events if event["kind"] == "tls_unpinned"]
    assert [event["api"] for event in bypasses] == ["okhttp3.CertificatePinner.check"] * 2
    assert not [event for event in run.sink.hooks() if event["kind"] == "tls_failed"]


@contextmanager
def _plain_http_server() -> Iterator[tuple[int, list[tuple[str, str, bytes]]]]:
    """A plain HTTP server on loopback answering every POST with "ok"; yields its port and what it received."""
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append((self.command, self.path, self.rfile.read(int(self.headers.get("content-length", "0") or 0))))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="loopback-http", daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def test_on_art_a_plain_http_okhttp_request_reaches_the_server_and_is_recorded(art10, dexes) -> None:
    from support.art.dex import dex_jar, sources_under

    # OkHttpClient asks java.security for its platform: the providers Android 10's libcore insists on, as the demo
    # stands them in on the boot class path (MD5 only, no TLS).
    providers = dex_jar(art10, {name: text for name, text in sources_under(DEMO_SOURCES).items()
                                if name.startswith("com/android/org/")}, name="okhttp-providers")
    runs = []
    with _plain_http_server() as (port, received):
        url = f"http://{LOOPBACK}:{port}/collect"
        for options in (None, AgentOptions(importance_poll_ms=0, follow_children=False)):
            runs.append(_run(art10, dexes, options, "com.example.pinned.Upload", url, boot=[providers.dex]))
    plain, hooked = runs
    assert plain.stdout_lines() == hooked.stdout_lines() == ["status 200 ok"]
    assert received == [("POST", "/collect", b'{"imei":"867530912345675"}')] * 2
    (call,) = [event for event in hooked.sink.hooks() if event["api"] == "okhttp3.OkHttpClient.newCall"]
    assert call["kind"] == "connect" and call["payload"] == {"url": url, "method": "POST"}
    assert call["stack"][0].startswith("com.example.pinned.Upload.main(")
    # The socket OkHttp opens underneath, once, with the stack from OkHttp's connection down to the app's call.
    (connect,) = [event for event in hooked.sink.hooks() if event["api"] == "java.net.Socket.connect"]
    assert connect["payload"] == {"host": LOOPBACK, "port": str(port)}
    assert connect["stack"][0].startswith("okhttp3.internal.platform.Platform.connectSocket(")
    assert any(frame.startswith("okhttp3.internal.connection.RealConnection.connectSocket(") for frame in connect["stack"])
    assert any(frame.startswith("com.example.pinned.Upload.main(") for frame in connect["stack"])
