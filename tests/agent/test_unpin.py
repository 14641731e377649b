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


def test_every_unpin_entry_names_its_source():
    for entry in load_unpin().entries:
        assert entry.source.startswith("https://")
