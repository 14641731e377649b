"""--unpin-tls: a pinned check is let through, and only when asked; every bypass is on record."""

from __future__ import annotations

import subprocess

import pytest

from monitor.agent.session import AgentOptions
from monitor.data import load_unpin

from agentrun import run_under_agent

pytestmark = pytest.mark.frida

PINNER = """
package okhttp3;
public final class CertificatePinner {
    public void check(String hostname, java.util.List<?> peerCertificates) throws javax.net.ssl.SSLPeerUnverifiedException {
        throw new javax.net.ssl.SSLPeerUnverifiedException("Certificate pinning failure! " + hostname);
    }
}
"""
APP = """
public class PinnedApp {
    public static void main(String[] args) {
        try {
            new okhttp3.CertificatePinner().check("api.pinned.example", java.util.List.of());
            System.out.println("let through");
        } catch (Exception error) {
            System.out.println("refused " + error.getClass().getName());
        }
    }
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> list[str]:
    src = tmp_path_factory.mktemp("pinned")
    (src / "okhttp3").mkdir()
    (src / "okhttp3" / "CertificatePinner.java").write_text(PINNER)
    (src / "PinnedApp.java").write_text(APP)
    classes = src / "classes"
    subprocess.run(["javac", "-d", str(classes), str(src / "okhttp3" / "CertificatePinner.java"), str(src / "PinnedApp.java")],
                   check=True, capture_output=True, timeout=120)
    return ["/usr/bin/java", "-cp", str(classes), "PinnedApp"]


def test_without_the_flag_pinning_is_left_alone(program):
    run = run_under_agent(program, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    assert run.stdout_lines() == ["refused javax.net.ssl.SSLPeerUnverifiedException"]
    assert not [event for event in run.sink.events if event["kind"] == "tls_unpinned"]


def test_with_the_flag_the_check_is_skipped_and_recorded(program):
    run = run_under_agent(program, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0, unpin_tls=True))
    assert run.stdout_lines() == ["let through"]
    unpinned = [event for event in run.sink.events if event["kind"] == "tls_unpinned"]
    assert len(unpinned) == 1 and unpinned[0]["api"] == "okhttp3.CertificatePinner.check"
    assert "api.pinned.example" in unpinned[0]["value"]
    installed = [event for event in run.sink.events if event.get("category") == "tls-unpinning"]
    entries = {item["api"]: item["status"] for item in installed[0]["payload"]["entries"]}
    assert entries["okhttp3.CertificatePinner.check"] == "installed"
    # Classes that do not exist on this platform are reported, not silently skipped.
    assert entries["com.android.org.conscrypt.TrustManagerImpl.verifyChain"] == "failed"


OWN_TRUST_APP = """
public class OwnTrustApp {
    public static void main(String[] args) throws Exception {
        // Pinning by a TrustManager of its own: a store holding only the SDK's pins (none of them this server's).
        java.security.KeyStore pins = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
        pins.load(null, null);
        javax.net.ssl.TrustManagerFactory trust = javax.net.ssl.TrustManagerFactory.getInstance(
            javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        trust.init(pins);
        javax.net.ssl.SSLContext pinned = javax.net.ssl.SSLContext.getInstance("TLS");
        pinned.init(null, trust.getTrustManagers(), null);
        javax.net.ssl.HttpsURLConnection connection =
            (javax.net.ssl.HttpsURLConnection) new java.net.URL(args[0]).openConnection();
        connection.setSSLSocketFactory(pinned.getSocketFactory());
        try {
            System.out.println("status " + connection.getResponseCode());
        } catch (javax.net.ssl.SSLException error) {
            System.out.println("refused " + error.getClass().getName());
        }
    }
}
"""


@pytest.fixture(scope="module")
def own_trust(tmp_path_factory):
    """The app above, a loopback HTTPS server, and a JVM whose system store trusts that server (as a device's
    store trusts the capture proxy's CA after setup)."""
    from support.servers import https_server

    src = tmp_path_factory.mktemp("owntrust")
    (src / "OwnTrustApp.java").write_text(OWN_TRUST_APP)
    subprocess.run(["javac", "-d", str(src), str(src / "OwnTrustApp.java")], check=True, capture_output=True, timeout=120)
    with https_server(src) as server:
        store = src / "system.jks"
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "server", "-file", str(server.cert),
                        "-keystore", str(store), "-storepass", "changeit"], check=True, capture_output=True, timeout=60)
        yield (["/usr/bin/java", f"-Djavax.net.ssl.trustStore={store}", "-Djavax.net.ssl.trustStorePassword=changeit",
                "-cp", str(src), "OwnTrustApp", f"https://127.0.0.1:{server.port}/collect"], server)


def test_an_apps_own_trust_manager_gives_way_to_the_systems_only_with_the_flag(own_trust):
    command, server = own_trust
    plain = run_under_agent(command, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    (line,) = plain.stdout_lines()
    assert line.startswith("refused javax.net.ssl.SSL") and server.received == []  # the handshake fails
    unpinned = run_under_agent(command, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0, unpin_tls=True))
    assert unpinned.stdout_lines() == ["status 200"] and [request.path for request in server.received] == ["/collect"]
    bypasses = [event for event in unpinned.sink.events if event["kind"] == "tls_unpinned"]
    assert [event["api"] for event in bypasses] == ["javax.net.ssl.SSLContext.init"]
    assert bypasses[0]["payload"]["action"] == "system_trust"


def test_every_unpin_entry_names_its_source():
    for entry in load_unpin().entries:
        assert entry.source.startswith("https://")


# OkHttp 4's CertificatePinner as the Kotlin compiler emits it: the public check(String, List), the deprecated
# check(String, Certificate...), both ending in the module-internal check$okhttp(String, Function0).
OKHTTP4_PINNER = {
    "kotlin/jvm/functions/Function0.java": """
package kotlin.jvm.functions;
public interface Function0<R> { R invoke(); }
""",
    "okhttp3/CertificatePinner.java": """
package okhttp3;
public final class CertificatePinner {
    public void check(String hostname, java.util.List<? extends java.security.cert.Certificate> peerCertificates)
            throws javax.net.ssl.SSLPeerUnverifiedException {
        check$okhttp(hostname, () -> peerCertificates);
    }
    @Deprecated
    public void check(String hostname, java.security.cert.Certificate... peerCertificates) throws javax.net.ssl.SSLPeerUnverifiedException {
        check(hostname, java.util.Arrays.asList(peerCertificates));
    }
    public final void check$okhttp(String hostname, kotlin.jvm.functions.Function0<java.util.List<? extends java.security.cert.Certificate>> cleaned)
            throws javax.net.ssl.SSLPeerUnverifiedException {
        cleaned.invoke();
        throw new javax.net.ssl.SSLPeerUnverifiedException("Certificate pinning failure!\\n  Peer certificate chain: " + hostname);
    }
}
""",
    "okhttp3/internal/connection/RealConnection.java": """
package okhttp3.internal.connection;
public final class RealConnection {
    // What OkHttp 4 does after the handshake: the internal entry, straight.
    public static void connectTls(okhttp3.CertificatePinner pinner, String host) throws javax.net.ssl.SSLPeerUnverifiedException {
        pinner.check$okhttp(host, () -> java.util.List.of());
    }
}
""",
    "Okhttp4App.java": """
public class Okhttp4App {
    public static void main(String[] args) {
        okhttp3.CertificatePinner pinner = new okhttp3.CertificatePinner();
        String[] ways = {"internal", "list", "varargs"};
        for (String way : ways) {
            try {
                if (way.equals("internal")) okhttp3.internal.connection.RealConnection.connectTls(pinner, "api.pinned.example");
                else if (way.equals("list")) pinner.check("api.pinned.example", java.util.List.of());
                else pinner.check("api.pinned.example", new java.security.cert.Certificate[0]);
                System.out.println(way + " let through");
            } catch (Exception error) {
                System.out.println(way + " refused " + error.getClass().getName());
            }
        }
    }
}
""",
}


@pytest.fixture(scope="module")
def okhttp4(tmp_path_factory) -> list[str]:
    src = tmp_path_factory.mktemp("okhttp4")
    files = []
    for name, text in OKHTTP4_PINNER.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(str(path))
    subprocess.run(["javac", "-d", str(src / "classes"), *files], check=True, capture_output=True, timeout=120)
    return ["/usr/bin/java", "-cp", str(src / "classes"), "Okhttp4App"]


def test_okhttp4_pin_failures_are_one_event_per_check_whichever_overload(okhttp4):
    run = run_under_agent(okhttp4, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    assert run.stdout_lines() == [f"{way} refused javax.net.ssl.SSLPeerUnverifiedException" for way in ("internal", "list", "varargs")]
    checks = [event for event in run.sink.hooks() if event["kind"] == "tls_failed"]
    # check → check$okhttp (and varargs → list → check$okhttp) is one check: reported by the outermost call.
    assert [event["api"] for event in checks] == ["okhttp3.CertificatePinner.check$okhttp", "okhttp3.CertificatePinner.check",
                                                  "okhttp3.CertificatePinner.check"]
    assert checks[0]["stack"][0].startswith("okhttp3.internal.connection.RealConnection.connectTls(")
    assert all(event["value"] == "api.pinned.example" and event["payload"]["side"] == "app-pin-check" for event in checks)


def test_unpin_covers_every_overload_of_okhttp4s_check(okhttp4):
    run = run_under_agent(okhttp4, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0, unpin_tls=True))
    assert run.stdout_lines() == [f"{way} let through" for way in ("internal", "list", "varargs")]
    installed = [event for event in run.sink.events if event.get("category") == "tls-unpinning"][0]
    overloads = {item["api"]: item["overloads"] for item in installed["payload"]["entries"]}
    assert overloads["okhttp3.CertificatePinner.check"] == 2 and overloads["okhttp3.CertificatePinner.check$okhttp"] == 1
    assert not [event for event in run.sink.hooks() if event["kind"] == "tls_failed"]
