"""Pinning that fails after the handshake, with Debian's real OkHttp 3 (libokhttp-java) through the real capture
proxy to a loopback HTTPS server.

OkHttp's CertificatePinner checks the pins once the TLS handshake is done and closes the connection when none
matches: the proxy sees a completed handshake and no request. It is recorded from both sides — in the app, the
check that threw, with its stack; at the proxy, the client closing after the handshake with no request — and
`--unpin-tls` lets the request through (recorded as a bypass, and the flow decrypted).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from monitor.agent.session import AgentOptions
from monitor.capture.ca import java_truststore
from monitor.capture.proxy import CaptureProxy
from monitor.runner.host import jvm_options
from monitor.store.reader import read_run
from monitor.store.writer import RunWriter
from support.servers import LOOPBACK, https_server

from agentrun import AgentRun, run_under_agent

pytestmark = [pytest.mark.frida, pytest.mark.proxy]

OKHTTP = [Path("/usr/share/java/okhttp.jar"), Path("/usr/share/java/okio.jar")]

APP = """
package com.example.pinned;
import okhttp3.*;
public class Upload {
    public static void main(String[] args) throws Exception {
        // The JDK's default ProxySelector never proxies loopback destinations (this test's server), whatever
        // http.nonProxyHosts says: the client is given the proxy named by the properties `run --host` sets.
        OkHttpClient.Builder builder = new OkHttpClient.Builder().proxy(new java.net.Proxy(java.net.Proxy.Type.HTTP,
            new java.net.InetSocketAddress(System.getProperty("https.proxyHost"), Integer.getInteger("https.proxyPort"))));
        if (args[1].equals("pinned")) {
            // The SDK pins its server's key: the interception proxy's certificate matches no pin.
            builder.certificatePinner(new CertificatePinner.Builder()
                .add("127.0.0.1", "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").build());
        }
        Request request = new Request.Builder().url(args[0])
            .post(RequestBody.create(MediaType.get("application/json"), "{\\"imei\\":\\"867530912345675\\"}")).build();
        try (Response response = builder.build().newCall(request).execute()) {
            System.out.println("status " + response.code());
        } catch (javax.net.ssl.SSLPeerUnverifiedException error) {
            System.out.println("refused " + error.getClass().getName());
        }
    }
}
"""


@pytest.fixture(scope="module")
def classes(tmp_path_factory) -> Path:
    if not all(jar.exists() for jar in OKHTTP):
        pytest.skip("Debian's libokhttp-java is not installed (.ci/run installs it)")
    root = tmp_path_factory.mktemp("okhttp")
    source = root / "src" / "com" / "example" / "pinned" / "Upload.java"
    source.parent.mkdir(parents=True)
    source.write_text(APP)
    subprocess.run(["javac", "-cp", ":".join(map(str, OKHTTP)), "-d", str(root / "classes"), str(source)],
                   check=True, capture_output=True, timeout=180)
    return root / "classes"


def _through_proxy(classes: Path, tmp_path: Path, mode: str, *, agent: AgentOptions | None):
    """Run the app (under the agent unless `agent` is None) through a real capture proxy to a loopback server.
    Returns (stdout lines, the agent run or None, the proxy's run, what the server received)."""
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, run_info={})
    with https_server(tmp_path) as server, CaptureProxy(writer, run_dir, confdir=tmp_path / "mitm-conf", ssl_insecure=True) as proxy:
        # As `run --host` starts a JVM: proxy properties (loopback included) and a truststore with the proxy's CA.
        command = ["/usr/bin/java", *jvm_options(proxy.port, java_truststore(tmp_path / "mitm-conf")).split(), "-cp", ":".join(map(str, [classes, *OKHTTP])), "com.example.pinned.Upload",
                   f"https://{LOOPBACK}:{server.port}/collect", mode]
        if agent is None:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-3000:]
            lines = done.stdout.splitlines()
            hooked = None
        else:
            hooked = run_under_agent(command, options=agent)
            lines = hooked.stdout_lines()
        received = list(server.received)
    writer.close()
    return lines, hooked, read_run(run_dir), received


def _tls_failed_at_proxy(run) -> list[dict]:
    rows = run.events[run.events["kind"] == "tls_failed"]
    return [payload for payload in rows["payload"].tolist()]


def test_without_the_agent_the_pin_refuses_the_proxy_and_the_proxy_records_the_close(classes, tmp_path) -> None:
    lines, _, proxy_run, received = _through_proxy(classes, tmp_path, "pinned", agent=None)
    assert lines == ["refused javax.net.ssl.SSLPeerUnverifiedException"] and received == []
    failures = _tls_failed_at_proxy(proxy_run)
    assert [(item["side"], item["host"], item["sni"]) for item in failures] == [
        ("client-closed-after-handshake", LOOPBACK, None)]
    assert (proxy_run.events["kind"] == "flow").sum() == 0


def test_the_failing_pin_check_is_recorded_in_the_app_with_its_stack(classes, tmp_path) -> None:
    lines, hooked, proxy_run, received = _through_proxy(
        classes, tmp_path, "pinned", agent=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    assert lines == ["refused javax.net.ssl.SSLPeerUnverifiedException"] and received == []
    (check,) = [event for event in hooked.sink.hooks() if event["kind"] == "tls_failed"]
    assert check["api"] == "okhttp3.CertificatePinner.check" and check["value"] == LOOPBACK
    assert check["payload"]["side"] == "app-pin-check" and check["payload"]["host"] == LOOPBACK
    assert "javax.net.ssl.SSLPeerUnverifiedException: Certificate pinning failure!" in check["payload"]["threw"]
    assert check["stack"][0].startswith("okhttp3.internal.connection.RealConnection.connectTls(")
    assert any(frame.startswith("com.example.pinned.Upload.main(") for frame in check["stack"])
    assert [item["side"] for item in _tls_failed_at_proxy(proxy_run)] == ["client-closed-after-handshake"]


def test_a_check_that_passes_is_not_recorded(classes, tmp_path) -> None:
    lines, hooked, proxy_run, received = _through_proxy(
        classes, tmp_path, "open", agent=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    assert lines == ["status 200"] and [item.path for item in received] == ["/collect"]
    assert not [event for event in hooked.sink.hooks() if event["kind"] == "tls_failed"]
    assert _tls_failed_at_proxy(proxy_run) == [] and (proxy_run.events["kind"] == "flow").sum() == 1


def test_unpin_tls_lets_the_pinned_request_through_and_says_so(classes, tmp_path) -> None:
    lines, hooked, proxy_run, received = _through_proxy(
        classes, tmp_path, "pinned", agent=AgentOptions(wait_for_jvm=True, importance_poll_ms=0, unpin_tls=True))
    assert lines == ["status 200"] and [item.path for item in received] == ["/collect"]
    bypasses = [event for event in hooked.sink.events if event["kind"] == "tls_unpinned"]
    # OkHttp's own SSLContext gets the platform's TrustManagers too (system_trust), then its pin check is skipped.
    assert [event["api"] for event in bypasses][-1] == "okhttp3.CertificatePinner.check"
    assert not [event for event in hooked.sink.hooks() if event["kind"] == "tls_failed"]
    assert _tls_failed_at_proxy(proxy_run) == []
    flows = proxy_run.events[proxy_run.events["kind"] == "flow"]
    assert len(flows) == 1 and "867530912345675" in proxy_run.flows[0]["request"]["body"]
