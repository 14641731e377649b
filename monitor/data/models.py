"""Schemas of the knowledge files. A file that does not fit is refused with file, line and field."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Strict = ConfigDict(extra="forbid", frozen=True)

JAVA_NAME = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$")


JAVA_TYPE = r"[A-Za-z_$][\w$.]*(\[\])*"
# "static java.lang.String getString(android.content.ContentResolver,java.lang.String)": how the stub
# generator declares the method, and a record of which overloads the source documents.
SIGNATURE = re.compile(rf"^(static )?(?P<returns>{JAVA_TYPE}) (?P<name>[A-Za-z_$][\w$]*)\((?P<params>({JAVA_TYPE}(,{JAVA_TYPE})*)?)\)$")


class When(BaseModel):
    """A hook reports only when this holds for the call (the app's result is never touched).

    The subject is argument `arg` (0-based), or the receiver with `receiver: true` (e.g. the Method of a
    reflective `Method.invoke`). `path` walks zero-argument methods or fields from the subject first
    (e.g. [getComponent, getPackageName] of an Intent). Its string form is tested with `match`:
      equals / in / prefix / contains — on the string;
      authority_in — the subject is a URI; its authority is one of `values`;
      other_package — the subject is a package name other than the app's own.
    """

    model_config = Strict
    arg: int | None = Field(default=None, ge=0)
    receiver: bool = False
    path: list[str] = Field(default_factory=list)
    match: Literal["equals", "in", "prefix", "contains", "authority_in", "other_package"]
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_needed(self) -> "When":
        if self.match != "other_package" and not self.values:
            raise ValueError(f"match '{self.match}' needs at least one entry in values")
        if (self.arg is None) == (not self.receiver):
            raise ValueError("give either arg (an argument index) or receiver: true, not both and not neither")
        return self


class PayloadField(BaseModel):
    """One key of the event's payload, taken from argument `arg`, from the return value (`result`) or
    a fixed `constant`, then through `path`. A path step is a zero-argument method or field, or
    `method:text` for a method taking one String (e.g. `getStringArrayExtra:NAME` of an Intent).
    Arrays and collections become lists. `names` renames values (e.g. {"0": granted, "-1": denied})."""

    model_config = Strict
    arg: int | None = Field(default=None, ge=0)
    result: bool = False
    constant: str | None = None
    path: list[str] = Field(default_factory=list)
    names: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_origin(self) -> "PayloadField":
        if sum((self.arg is not None, self.result, self.constant is not None)) != 1:
            raise ValueError("give exactly one of arg (an argument index), result: true or constant")
        return self


class Record(BaseModel):
    """What to keep from a call.

    returns: value  — the return value as text (Strings as is, objects by toString), capped;
             list   — a collection or array: count, SHA-256 of the items and the first N items;
             fields — zero-argument methods or fields of the returned object (`fields`);
             none   — the call alone.
    item: for `list`, the method or field that names an item (e.g. packageName), else toString.
    this_as / this_fields: read members of the receiver, cast to `this_as` when it is one (e.g. the
             text of a clicked TextView); a receiver of another class records nothing extra.
    payload: named payload keys the analyzer reads (prefs key/value, permission results, targets).
    value_arg: the event's `value` is this argument's text (a URL loaded, a command run) when the
             return value says nothing.
    """

    model_config = Strict
    args: bool = True
    returns: Literal["value", "list", "fields", "none"] = "value"
    fields: list[str] = Field(default_factory=list)
    item: str | None = None
    this_as: str | None = None
    this_fields: list[str] = Field(default_factory=list)
    payload: dict[str, PayloadField] = Field(default_factory=dict)
    value_arg: int | None = Field(default=None, ge=0)
    # This entry's own cap on the value's characters (a privacy policy shown whole), else the agent's.
    value_chars: int | None = Field(default=None, ge=64, le=2_000_000)
    # Keep the URLs of links (URLSpan) in the value_arg text as payload.links.
    links: bool = False
    # Record only calls that threw (a certificate pin check failing), none that returned.
    thrown_only: bool = False

    @model_validator(mode="after")
    def _links_need_text(self) -> "Record":
        if (self.links or self.value_chars is not None) and self.value_arg is None:
            raise ValueError("links and value_chars apply to the value_arg text: set value_arg")
        return self


class HookEntry(BaseModel):
    """One API the agent hooks. `api` is the public name reported; `impl` the class that really
    implements it on a device when the public class is abstract (hook the implementation, report
    the public name). `signatures` are the documented overloads (the stub generator declares and
    calls each); the agent still hooks every overload unless `overloads` lists some (entries listing
    different overloads of one method are hooks of their own: a signature that changed across Android
    versions, each read its own way). `overrides: true` also hooks the methods overriding this one in every
    class that extends or implements `api`'s class, found as each class is defined (callbacks apps override
    without calling super, where the framework has no dispatch point to hook)."""

    model_config = Strict
    api: str
    impl: str | None = None
    signatures: list[str] = Field(min_length=1)
    overloads: Literal["all"] | list[list[str]] = "all"
    kind: Literal["pi_read", "click", "lifecycle", "dialog", "prefs", "permission", "app_start", "webview", "connect", "text",
                  "tls_failed"] = "pi_read"
    category: str
    what: str | None = None
    permission: str = "-"
    record: Record = Field(default_factory=Record)
    when: When | None = None
    overrides: bool = False
    source: str = Field(min_length=8)

    @field_validator("api", "impl")
    @classmethod
    def _java_name(cls, value: str | None) -> str | None:
        if value is not None and not JAVA_NAME.match(value):
            raise ValueError(f"'{value}' is not a fully qualified Java name class.method")
        return value

    @model_validator(mode="after")
    def _signatures_name_the_method(self) -> "HookEntry":
        for signature in self.signatures:
            parsed = SIGNATURE.match(signature)
            if parsed is None:
                raise ValueError(f"signature '{signature}' is not '[static ]RETURN_TYPE {self.method}(TYPE,TYPE)' "
                                 "with fully qualified types and no spaces between parameters")
            if parsed["name"] != self.method:
                raise ValueError(f"signature '{signature}' declares {parsed['name']}, but the api is {self.api}")
            if self.when is not None and self.when.arg is not None and self.when.arg >= len(parameter_types(signature)):
                raise ValueError(f"when.arg {self.when.arg} is beyond the parameters of '{signature}'")
        return self

    @property
    def class_name(self) -> str:
        return self.api.rsplit(".", 1)[0]

    @property
    def method(self) -> str:
        return self.api.rsplit(".", 1)[1]

    @property
    def hook_class(self) -> str:
        return self.impl or self.class_name


def parameter_types(signature: str) -> list[str]:
    parsed = SIGNATURE.match(signature)
    if parsed is None:
        raise ValueError(f"not a signature: {signature}")
    return parsed["params"].split(",") if parsed["params"] else []


def return_type(signature: str) -> str:
    parsed = SIGNATURE.match(signature)
    if parsed is None:
        raise ValueError(f"not a signature: {signature}")
    return parsed["returns"]


def is_static(signature: str) -> bool:
    return signature.startswith("static ")


class NativeWhen(BaseModel):
    """A native call counts only when argument `arg` matches: a C string (equals / in / prefix /
    contains / glob with `*` inside one path segment), an integer (int_in; decimal or 0x hex), or the
    address family of a struct sockaddr (family_in: inet, inet6 — a connect to a Unix socket is local IPC),
    or its port (port_in: an IPv4/IPv6 struct sockaddr whose port is one of the values)."""

    model_config = Strict
    arg: int = Field(ge=0)
    match: Literal["equals", "in", "prefix", "contains", "glob", "int_in", "family_in", "port_in"]
    values: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _integers(self) -> "NativeWhen":
        if self.match == "family_in" and not set(self.values) <= {"inet", "inet6"}:
            raise ValueError(f"family_in values are inet and inet6, not {self.values}")
        if self.match in ("int_in", "port_in"):
            for value in self.values:
                try:
                    int(value, 0)
                except ValueError as exc:
                    raise ValueError(f"int_in value '{value}' is not an integer (decimal or 0x hex)") from exc
        return self


class NativeEntry(BaseModel):
    """A C function an app or SDK can read PI through without any Java API (Reardon et al., 2019).

    `module` is the library exporting it (null: the first module that exports it, i.e. libc on Linux
    and Android alike). `args` says how each argument is shown. `value` says what was read:
      none — the call alone; arg — argument `value_arg` as a C string;
      out_cstring — the C string the call wrote into argument `value_arg` (read on return);
      file — the content of the file named by argument `value_arg` (small sysfs/procfs files);
      ifaddrs — the interface list written to *argument `value_arg`: names, MACs and IPs;
      ifreq_hwaddr — the MAC the kernel wrote into the struct ifreq at argument `value_arg`;
      sockaddr — the IPv4/IPv6 address and port of the struct sockaddr at argument `value_arg` (payload
      host and port, as Java's Socket.connect records them), and `transport` (tcp, udp) of the socket
      whose descriptor is argument 0, as in every socket call.
    `kind` is pi_read, or connect for a connection opened (analysis/coverage.py lists those the proxy
    did not see), or anti_instrumentation for a probe the app or an SDK makes for an instrumentation
    tool (its memory map, its thread names, Frida's port; `category` names the check). `success` says
    which return values mean the read happened (a failed open read nothing).
    `hide` (anti_instrumentation only) says what `--stealth` removes from the answer to such a probe:
      cloaked_ranges — the lines of a memory map (/proc/self/maps) that are the agent's own memory;
      cloaked_threads — the agent's threads: left out of listings of /proc/self/task (readdir), and their
        comm/stat/status files read empty;
      refuse — a loopback connection refused as if nothing listened (ECONNREFUSED)."""

    model_config = Strict
    api: str = Field(pattern=r"^[\w.+-]+\.[\w]+$")
    module: str | None = None
    export: str = Field(pattern=r"^[A-Za-z_][\w]*$")
    kind: Literal["pi_read", "connect", "anti_instrumentation"] = "pi_read"
    category: str
    what: str | None = None
    permission: str = "-"
    args: list[Literal["cstring", "int", "pointer"]] = Field(default_factory=list)
    when: NativeWhen | None = None
    value: Literal["none", "arg", "out_cstring", "file", "ifaddrs", "ifreq_hwaddr", "sockaddr"] = "none"
    value_arg: int = Field(default=0, ge=0)
    success: Literal["any", "nonnegative", "nonnull", "zero", "positive"] = "any"
    hide: Literal["cloaked_ranges", "cloaked_threads", "refuse"] | None = None
    source: str = Field(min_length=8)

    @model_validator(mode="after")
    def _arguments_described(self) -> "NativeEntry":
        if self.hide is not None and self.kind != "anti_instrumentation":
            raise ValueError(f"{self.api}: `hide` is for anti_instrumentation probes only")
        if self.hide == "refuse" and (self.when is None or self.when.match != "port_in"):
            raise ValueError(f"{self.api}: hide refuse needs when.match port_in (the ports refused)")
        used = [self.value_arg] if self.value != "none" else []
        if self.when is not None:
            used.append(self.when.arg)
        for index in used:
            if index >= len(self.args):
                raise ValueError(f"argument {index} is used but `args` describes only {len(self.args)}")
        if self.value == "sockaddr" and (not self.args or self.args[0] != "int"):
            raise ValueError("value sockaddr needs argument 0 to be an int: the socket's descriptor")
        if self.when is not None and self.when.match in ("family_in", "port_in") and self.args[self.when.arg] != "pointer":
            raise ValueError(f"when.match family_in needs argument {self.when.arg} to be a pointer (a struct sockaddr)")
        if self.when is not None and self.when.match not in ("int_in", "family_in", "port_in") and self.args[self.when.arg] != "cstring":
            raise ValueError(f"when.match {self.when.match} needs argument {self.when.arg} to be a cstring")
        return self


class Catalogue(BaseModel):
    model_config = Strict
    version: str
    hooks: list[HookEntry]
    native: list[NativeEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_duplicates(self) -> "Catalogue":
        seen: set[tuple[str, str | None, str | None]] = set()
        for entry in self.hooks:
            key = (entry.api, entry.when.model_dump_json() if entry.when else None,
                   None if entry.overloads == "all" else repr(entry.overloads))
            if key in seen:
                raise ValueError(f"{entry.api} is listed twice with the same condition")
            seen.add(key)
        for native in self.native:
            key = (native.api, native.when.model_dump_json() if native.when else None, None)
            if key in seen:
                raise ValueError(f"{native.api} is listed twice with the same condition")
            seen.add(key)
        return self

    def categories(self) -> list[str]:
        java = {entry.category for entry in self.hooks if entry.kind == "pi_read"}
        return sorted(java | {entry.category for entry in self.native if entry.kind != "anti_instrumentation"})

    def apis(self) -> set[str]:
        """Distinct APIs hooked (Java methods and C functions); one API may carry several conditions."""
        return {entry.api for entry in self.hooks} | {entry.api for entry in self.native}


class LocalName(BaseModel):
    model_config = Strict
    en: str
    zh: str | None = None


class Sdk(BaseModel):
    model_config = Strict
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: LocalName
    vendor: str
    kind: str
    prefixes: list[str] = Field(min_length=1)
    domains: list[str] = Field(default_factory=list)
    source: str = Field(min_length=8)
    # Other names the SDK goes by in privacy policies' SDK lists (product renames, marketing names),
    # so a report can be matched against what an app declares.
    aliases: list[str] = Field(default_factory=list)
    # Why a prefix or domain is there when it is not obvious (e.g. a framework listed only so its
    # frames are not taken for its vendor's SDK).
    notes: str | None = None
    # The id of the entry a regulator's notice names this one under: a module of a family whose back end
    # is listed on one umbrella entry (umeng-analytics → umeng). Its reads, connects and the flows to the
    # umbrella's domains are then one subject in a report's cases (monitor/analysis/cases.py).
    group: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]*$")


# A kind's Chinese name says it in Chinese: at least one CJK character.
CHINESE = r"[\u4e00-\u9fff]"


class SdkTable(BaseModel):
    model_config = Strict
    version: str
    # Each SDK `kind` ("crash reporting") → its Chinese name ("崩溃上报"), the report's first language. A table
    # that names kinds must name every kind its SDKs use (the bundled sdks.yaml does; a test holds it to that).
    kinds: dict[str, Annotated[str, Field(pattern=CHINESE)]] = Field(default_factory=dict)
    # A vendor's Chinese name where it has one ("Tencent" → "腾讯"); others are written as `vendor` says.
    vendors: dict[str, Annotated[str, Field(pattern=CHINESE)]] = Field(default_factory=dict)
    sdks: list[Sdk]

    @model_validator(mode="after")
    def _unique(self) -> "SdkTable":
        ids = [sdk.id for sdk in self.sdks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate sdk ids: {dupes}")
        owners: dict[str, str] = {}
        for sdk in self.sdks:
            for prefix in sdk.prefixes:
                if prefix in owners:
                    raise ValueError(f"package prefix {prefix} claimed by both {owners[prefix]} and {sdk.id}")
                owners[prefix] = sdk.id
        unnamed = sorted({sdk.kind for sdk in self.sdks} - set(self.kinds)) if self.kinds else []
        if unnamed:
            raise ValueError(f"SDK kinds with no Chinese name under kinds: {unnamed} (add each, e.g. \"{unnamed[0]}\": \"中文名\")")
        strangers = sorted(set(self.vendors) - {sdk.vendor for sdk in self.sdks})
        if strangers:
            raise ValueError(f"vendors names {strangers}, which no SDK's vendor is (spelt differently?)")
        by_id = {sdk.id: sdk for sdk in self.sdks}
        for sdk in self.sdks:
            if sdk.group is None:
                continue
            umbrella = by_id.get(sdk.group)
            if umbrella is None or umbrella.id == sdk.id:
                raise ValueError(f"{sdk.id}: group {sdk.group!r} is not another SDK's id")
            if umbrella.group is not None:
                raise ValueError(f"{sdk.id}: group {sdk.group!r} is itself in group {umbrella.group!r}; name the umbrella entry")
        return self

    def kind_name(self, kind: str, lang: str) -> str:
        """An SDK kind as a report in `lang` says it: its Chinese name in zh (as written when the table has none)."""
        return self.kinds.get(kind, kind) if lang == "zh" else kind

    def vendor_name(self, vendor: str, lang: str) -> str:
        """A vendor as a report in `lang` names it: its Chinese name in zh where it has one."""
        return self.vendors.get(vendor, vendor) if lang == "zh" else vendor

    def subject_of(self, sdk_id: str) -> str:
        """The SDK id a case names `sdk_id` under: its group's, else its own."""
        sdk = next((entry for entry in self.sdks if entry.id == sdk_id), None)
        return sdk.group if sdk is not None and sdk.group else sdk_id


def normalise_words(text: str) -> str:
    """Fold width, case and spacing so '同意 并继续', '同意并继续' and 'AGREE' compare equal to the list."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s\u200b]+", "", text).strip("。.!！:：")


class ConsentWords(BaseModel):
    """Words on buttons that give or refuse consent. Matched on the whole button text, normalised."""

    model_config = Strict
    version: str
    agree: list[str] = Field(min_length=1)
    refuse: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _disjoint(self) -> "ConsentWords":
        both = {normalise_words(w) for w in self.agree} & {normalise_words(w) for w in self.refuse}
        if both:
            raise ValueError(f"words listed as both agree and refuse: {sorted(both)}")
        return self

    def classify(self, text: str | None) -> Literal["agree", "refuse"] | None:
        if not text:
            return None
        key = normalise_words(text)
        if key in {normalise_words(w) for w in self.refuse}:
            return "refuse"
        if key in {normalise_words(w) for w in self.agree}:
            return "agree"
        return None


class UnpinEntry(BaseModel):
    """One pinning check neutralised under --unpin-tls (monitor/data/unpin.yaml says what each action does)."""

    model_config = Strict
    api: str
    action: Literal["skip", "return_arg", "proceed_arg", "system_trust"]
    arg: int | None = Field(default=None, ge=0)
    source: str = Field(min_length=8)

    @model_validator(mode="after")
    def _arg_when_needed(self) -> "UnpinEntry":
        if (self.action == "skip") != (self.arg is None):
            raise ValueError(f"action {self.action} {'takes no' if self.action == 'skip' else 'needs an'} arg")
        return self


class UnpinTable(BaseModel):
    model_config = Strict
    version: str
    entries: list[UnpinEntry] = Field(min_length=1)


class PortProtocol(BaseModel):
    """What a connection to a well-known port most likely carried (monitor/data/protocols.yaml)."""

    model_config = Strict
    transport: Literal["tcp", "udp"]
    port: int = Field(ge=1, le=65535)
    name: str = Field(min_length=2)
    note: str = Field(min_length=10)
    # The same in Chinese, the report's first language (`name`, `note`: English).
    name_zh: str = Field(min_length=2)
    note_zh: str = Field(min_length=6)
    source: str = Field(pattern=r"^https://")


class ProtocolTable(BaseModel):
    model_config = Strict
    version: str
    entries: list[PortProtocol] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_per_port(self) -> "ProtocolTable":
        seen: set[tuple[str, int]] = set()
        for entry in self.entries:
            key = (entry.transport, entry.port)
            if key in seen:
                raise ValueError(f"{entry.transport}/{entry.port} is listed twice")
            seen.add(key)
        return self

    def lookup(self, transport: str | None, port: int | None) -> PortProtocol | None:
        for entry in self.entries:
            if entry.transport == transport and entry.port == port:
                return entry
        return None


class PermissionResult(BaseModel):
    """How a runtime-permission answer appears in an event (a constant, or its name) and what it means."""

    model_config = Strict
    value: str = Field(min_length=1)
    means: Literal["granted", "denied"]
    source: str = Field(min_length=8)


class SchedulingApi(BaseModel):
    """APIs by which an app schedules its own later start (self-start when used before consent)."""

    model_config = Strict
    prefix: str = Field(min_length=4)
    what: str = Field(min_length=4)
    source: str = Field(min_length=8)


class SocketConnectApi(BaseModel):
    """A hooked connect at the socket level, and the transport its socket carries (None: the event says)."""

    model_config = Strict
    api: str = Field(min_length=4)
    transport: Literal["tcp", "udp"] | None = None
    source: str = Field(min_length=8)


class PlatformFacts(BaseModel):
    """Android constants the rules read (platform.yaml)."""

    model_config = Strict
    version: str
    permission_results: list[PermissionResult] = Field(min_length=1)
    scheduling_apis: list[SchedulingApi] = Field(min_length=1)
    socket_connects: list[SocketConnectApi] = Field(min_length=1)

    def socket_connect_apis(self) -> frozenset[str]:
        return frozenset(entry.api for entry in self.socket_connects)

    def java_transport(self, api: str) -> str | None:
        return next((entry.transport for entry in self.socket_connects if entry.api == api), None)

    def permission_result(self, value: object) -> str | None:
        """'granted' / 'denied' for an answer as events carry it (0, -1, "granted"…), else None."""
        wanted = str(value).casefold()
        return next((entry.means for entry in self.permission_results if entry.value.casefold() == wanted), None)

    def scheduling_prefixes(self) -> tuple[str, ...]:
        return tuple(entry.prefix for entry in self.scheduling_apis)


# ---- static APK scan (monitor/scan): dangerous_permissions.yaml, self_start.yaml, packers.yaml ----------

class DangerousPermission(BaseModel):
    """A runtime permission: protectionLevel="dangerous" in Android's platform manifest since API `since`."""

    model_config = Strict
    name: str = Field(pattern=JAVA_NAME.pattern)
    group: str = Field(pattern=r"^[a-z][a-z-]*$")
    since: int = Field(ge=23)
    source: str = Field(pattern=r"^https://")


class DangerousPermissionTable(BaseModel):
    model_config = Strict
    version: str
    source: str = Field(pattern=r"^https://")
    platform_manifest: str = Field(pattern=r"^https://")
    dangerous: list[DangerousPermission] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "DangerousPermissionTable":
        names = [entry.name for entry in self.dangerous]
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise ValueError(f"listed twice: {dupes}")
        return self

    def lookup(self, name: str) -> DangerousPermission | None:
        return next((entry for entry in self.dangerous if entry.name == name), None)


class SelfStartAction(BaseModel):
    """A broadcast that starts the app's process through a manifest receiver (self_start.yaml)."""

    model_config = Strict
    action: str = Field(pattern=JAVA_NAME.pattern)
    what: str = Field(min_length=4)
    # The highest targetSdkVersion Android still delivers it for to a manifest receiver; None: any target.
    manifest_until: int | None = Field(ge=1)
    # The permission the receiving app must hold for Android to deliver it (RECEIVE_BOOT_COMPLETED…).
    permission: str | None = Field(default=None, pattern=JAVA_NAME.pattern)
    source: str = Field(pattern=r"^https://")


class SelfStartTable(BaseModel):
    model_config = Strict
    version: str
    actions: list[SelfStartAction] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "SelfStartTable":
        actions = [entry.action for entry in self.actions]
        dupes = sorted({action for action in actions if actions.count(action) > 1})
        if dupes:
            raise ValueError(f"listed twice: {dupes}")
        return self

    def lookup(self, action: str) -> SelfStartAction | None:
        return next((entry for entry in self.actions if entry.action == action), None)


class Packer(BaseModel):
    """An app packer (加固) and the names its stub leaves in the APK (packers.yaml)."""

    model_config = Strict
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: LocalName
    vendor: str
    classes: list[str] = Field(default_factory=list)
    packages: list[str] = Field(default_factory=list)
    libraries: list[str] = Field(default_factory=list)
    library_patterns: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    source: str = Field(pattern=r"^https://")
    see_also: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _indicators(self) -> "Packer":
        if not (self.classes or self.packages or self.libraries or self.library_patterns or self.files):
            raise ValueError(f"{self.id}: give at least one class, package, library or file")
        for name in (*self.classes, *self.packages):
            if not JAVA_NAME.match(name):
                raise ValueError(f"{self.id}: {name!r} is not a Java class or package name")
        for library in self.libraries:
            if "/" in library or not library.endswith(".so"):
                raise ValueError(f"{self.id}: library {library!r} must be a file name ending in .so")
        for pattern in self.library_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{self.id}: library pattern {pattern!r}: {exc}") from exc
        return self


class PackerTable(BaseModel):
    model_config = Strict
    version: str
    packers: list[Packer] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "PackerTable":
        ids = [packer.id for packer in self.packers]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate packer ids: {dupes}")
        owners: dict[str, str] = {}
        for packer in self.packers:
            for indicator in (*packer.classes, *packer.packages, *packer.libraries, *packer.files):
                if indicator in owners and owners[indicator] != packer.id:
                    raise ValueError(f"{indicator} claimed by both {owners[indicator]} and {packer.id}")
                owners[indicator] = packer.id
        return self
