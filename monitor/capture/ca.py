"""The interception CA: created before the proxy listens, so targets can be told to trust it first."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mitmproxy.certs import CertStore

from monitor.errors import CaptureError

CA_BASENAME = "mitmproxy"
DEFAULT_CONFDIR = Path.home() / ".consentmon" / "mitmproxy"
TRUSTSTORE_PASSWORD = "consentmon"


def ensure_ca(confdir: Path = DEFAULT_CONFDIR) -> Path:
    """Create (once) mitmproxy's CA in confdir; return the PEM of the public certificate."""
    try:
        CertStore.from_store(confdir, CA_BASENAME, 2048)
    except OSError as exc:
        raise CaptureError(f"cannot create the interception CA in {confdir}: {exc}") from exc
    cert = confdir / f"{CA_BASENAME}-ca-cert.pem"
    if not cert.exists():
        raise CaptureError(f"mitmproxy did not write {cert}", hint=f"delete {confdir} and retry")
    return cert


def java_truststore(confdir: Path = DEFAULT_CONFDIR) -> Path:
    """A JKS truststore holding only the CA, for `-Djavax.net.ssl.trustStore` (rebuilt when the CA changes)."""
    cert = ensure_ca(confdir)
    store = confdir / "consentmon-truststore.jks"
    if store.exists() and store.stat().st_mtime >= cert.stat().st_mtime:
        return store
    keytool = shutil.which("keytool")
    if keytool is None:
        raise CaptureError("keytool (from a JDK) is not on PATH; it is needed to make the JVM trust the proxy",
                           hint="install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`")
    store.unlink(missing_ok=True)
    result = subprocess.run(
        [keytool, "-importcert", "-noprompt", "-alias", "consentmon-ca", "-file", str(cert),
         "-keystore", str(store), "-storetype", "JKS", "-storepass", TRUSTSTORE_PASSWORD],
        capture_output=True, text=True, timeout=60,
    )
    if result.returncode != 0:
        raise CaptureError(f"keytool could not build {store}: {result.stderr.strip() or result.stdout.strip()}")
    return store
