"""What a static scan of an APK found: one ApkScan, plain data (JSON-ready through `model_dump(mode="json")`).

The report's "declared vs observed" section and run.json read it; `consentmon scan` prints it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Frozen = ConfigDict(extra="forbid", frozen=True)


class PermissionEntry(BaseModel):
    """A <uses-permission> of the manifest; `dangerous` when Android asks the user for it at run time."""

    model_config = Frozen
    name: str
    dangerous: bool
    group: str | None = None          # the runtime permission group (location, phone…) when dangerous
    dangerous_since: int | None = None  # the API level from which the platform declares it dangerous
    max_sdk: int | None = None        # android:maxSdkVersion: requested only up to this API level


class SelfStartTrigger(BaseModel):
    model_config = Frozen
    action: str
    what: str
    # False when the app targets an API level at which Android no longer delivers this broadcast to a
    # manifest receiver, or lacks the permission the broadcast needs (the declaration then starts nothing).
    delivered: bool
    missing_permission: str | None = None   # the permission the broadcast needs and the manifest does not request
    source: str


class SelfStartReceiver(BaseModel):
    """A manifest <receiver> whose intent filters name broadcasts that start the app without the user."""

    model_config = Frozen
    receiver: str
    sdk: str | None = None            # the SDK whose package the receiver class is in, if any
    exported: bool | None = None
    enabled: bool = True
    triggers: list[SelfStartTrigger]


class SdkPresence(BaseModel):
    """An SDK of the SDK table (monitor/data/sdks.yaml) whose classes are in the APK's dex or whose components
    its manifest declares."""

    model_config = Frozen
    id: str
    name: str
    name_zh: str | None = None
    vendor: str
    kind: str
    group: str | None = None
    classes: int = Field(ge=0)        # classes in the dex under its prefixes (0: seen in the manifest only)
    packages: list[str]               # the table's prefixes that matched, most classes first
    # Manifest components in its packages ("service com.igexin.sdk.PushService"): evidence that survives a
    # packer, which encrypts the dex but must leave the manifest readable.
    components: list[str] = Field(default_factory=list)


class PackageCount(BaseModel):
    model_config = Frozen
    package: str
    classes: int


class DexSummary(BaseModel):
    model_config = Frozen
    files: list[str]
    classes: int
    app_classes: int                  # under the app's own package
    sdk_classes: int                  # attributed to an SDK of the table
    packer_classes: int = 0           # a packer's stub classes (never counted as an SDK's)
    # The largest packages (three segments) neither the app's nor any known SDK's: where an SDK the table
    # does not know yet would show.
    unattributed: list[PackageCount]


class PackerHit(BaseModel):
    model_config = Frozen
    id: str
    name: str
    name_zh: str | None = None
    vendor: str
    evidence: list[str]               # "class com.stub.StubApp", "library lib/arm64-v8a/libjiagu.so", "file assets/…"
    source: str


class NetworkSecurity(BaseModel):
    """The app's network security config as it applies to the capture proxy's CA, and what setup needs."""

    model_config = Frozen
    config_file: str | None           # res/xml/….xml named by android:networkSecurityConfig, None without one
    cleartext_permitted: bool         # for domains no domain-config names
    cleartext_domains: list[str]      # domain-configs that permit cleartext
    cleartext_blocked_domains: list[str]
    user_cas: Literal["all", "some-domains", "debug-only", "none"]
    user_ca_domains: list[str]        # with "some-domains": the domains that trust user-added CAs
    debuggable: bool
    pinned_domains: list[str]         # domain-configs with a <pin-set>: the proxy's CA is refused there
    ca_route: Literal["user", "system"]
    ca_route_reason: str
    notes: list[str] = Field(default_factory=list)


class ApkScan(BaseModel):
    """Everything `consentmon scan APK` reports."""

    model_config = Frozen
    file: str
    sha256: str
    size: int
    package: str
    version_code: int | None
    version_name: str | None
    min_sdk: int | None
    target_sdk: int | None
    signature_scheme: str | None
    signer_sha256: list[str]
    permissions: list[PermissionEntry]
    self_start: list[SelfStartReceiver]
    sdks: list[SdkPresence]
    dex: DexSummary
    native_libraries: dict[str, list[str]]   # ABI → library file names (lib/<abi>/*.so)
    other_native: list[str]                  # .so files outside lib/ (assets/…: often a packer's)
    packers: list[PackerHit]
    network_security: NetworkSecurity
    warnings: list[str] = Field(default_factory=list)

    def dangerous_permissions(self) -> list[str]:
        return [entry.name for entry in self.permissions if entry.dangerous]

    def as_run_info(self) -> dict[str, object]:
        """The scan as run.json keeps it (under "apk_scan")."""
        return self.model_dump(mode="json")
