"""A stub-Android JVM program generated from the hook catalogue.

From every entry's `signatures` it writes Java stub classes with the real class, method and type names
(an `impl` class extends its public class, as ApplicationPackageManager extends PackageManager), and
an exerciser whose `main` calls every signature of every entry:

  match   — with arguments that satisfy the entry's `when` (the entry must fire, once);
  throw   — the same, while the stub throws (the app must get the very same exception object back);
  nomatch — with arguments for which no entry of that method holds (nothing may fire).

Each call prints one JSON line with what the program saw, so a run with hooks and a run without can
be compared line for line. `plan()` is the list of calls in order with the event each must produce.
Since all of it comes from the catalogue, an entry added there is exercised without writing a test.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from monitor.data.models import Catalogue, HookEntry, When, is_static, parameter_types, return_type
from monitor.errors import TargetError
from monitor.cache import cache_root

STUB_PACKAGE = "consentmon.stubgen"
EXERCISER = f"{STUB_PACKAGE}.Exerciser"
OWN_PACKAGE = "com.example.stubapp"
OTHER_PACKAGE = "com.other.app"
NO_MATCH = "consentmon.nomatch"
PRIMITIVES = {"boolean", "byte", "char", "short", "int", "long", "float", "double", "void"}

# JDK classes the catalogue hooks cannot be replaced by stubs: how the exerciser gets a receiver,
# for a call whose `when` holds and for one whose `when` does not.
JDK_RECEIVERS = {
    "java.net.NetworkInterface": ('java.net.NetworkInterface.getByName("lo")', None),
    "java.lang.Runtime": ("java.lang.Runtime.getRuntime()", None),
    # openConnection() connects nothing; a file: URL is the call whose `when` (http/https) does not hold.
    "java.net.URL": ('new java.net.URL("https://tracker.invalid/collect")', 'new java.net.URL("file:///dev/null")'),
    # connect() to an unresolved address fails before anything touches the network (UnknownHostException,
    # UnresolvedAddressException).
    "java.net.Socket": ("new java.net.Socket()", None),
    "sun.nio.ch.SocketChannelImpl": ("java.nio.channels.SocketChannel.open()", None),
    "java.net.DatagramSocket": ("new java.net.DatagramSocket()", None),
    "sun.nio.ch.DatagramChannelImpl": ("java.nio.channels.DatagramChannel.open()", None),
}


def _is_jdk(class_name: str) -> bool:
    """A class of the JDK itself: called for real by the exerciser, never replaced by a stub."""
    return class_name.startswith(("java.", "sun."))
# Runtime.exec runs its subject: a command that exists and does nothing ("/bin/true getprop x") keeps
# the program's results fixed. (A command that does not exist behaves differently under Frida's child
# gating: the JVM's child dies with SIGSEGV instead of the app getting an IOException — see
# hooks/README.md.)
COMMAND_PREFIX = {"java.lang.Runtime": "/bin/true "}


@dataclass(frozen=True)
class Call:
    index: int
    api: str
    signature: str
    mode: str                      # match | throw | nomatch
    expect_category: str | None    # the category the event must carry, None: no event
    expect_kind: str | None
    subject: str | None            # the text the `when` is tested on


def _source_name(java_type: str) -> str:
    return java_type.replace("$", ".")


def _is_generated(java_type: str) -> bool:
    base = java_type.rstrip("[]")
    return base not in PRIMITIVES and not base.startswith(("java.", "javax."))


def _when_holds(when: When | None, subject: str | None) -> bool:
    """The agent's matching rule, for computing which entry of a method fires."""
    if when is None:
        return True
    if subject is None:
        return False
    if when.match in ("equals", "in"):
        return subject in when.values
    if when.match == "prefix":
        return any(subject.startswith(value) for value in when.values)
    if when.match == "contains":
        return any(value in subject for value in when.values)
    if when.match == "authority_in":
        rest = subject.split("://", 1)[-1]
        return re.split(r"[/?#]", rest, maxsplit=1)[0] in when.values
    return subject != OWN_PACKAGE  # other_package


def _subject(when: When, matching: bool) -> str:
    if when.match == "other_package":
        return OTHER_PACKAGE if matching else OWN_PACKAGE
    value = when.values[0] if matching else NO_MATCH
    if when.match == "authority_in":
        return f"content://{value}/data"
    if when.match == "prefix":
        return value + ".x" if matching else value
    if when.match == "contains":
        return f"{value} x" if matching else value
    return value


@dataclass
class StubClass:
    name: str                                  # binary name, a.b.C or a.b.C$D
    extends: str | None = None
    methods: dict[str, str] = field(default_factory=dict)     # signature -> Java source
    members: dict[str, str] = field(default_factory=dict)     # extra member name -> Java source


class Generator:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.classes: dict[str, StubClass] = {}
        self.step_names: dict[str, bool] = {}   # path step name -> takes a String argument
        self.item_members: set[str] = set()
        self.calls: list[Call] = []
        self.call_sources: list[str] = []
        self.groups: dict[str, list[HookEntry]] = {}
        for entry in catalogue.hooks:
            self.groups.setdefault(f"{entry.hook_class}#{entry.method}", []).append(entry)

    # ---- classes -------------------------------------------------------------------------------
    def stub(self, name: str) -> StubClass:
        name = name.rstrip("[]")
        if "$" in name:
            self.stub(name.rsplit("$", 1)[0])
        if name not in self.classes:
            self.classes[name] = StubClass(name)
        return self.classes[name]

    def value_for(self, java_type: str, entry: HookEntry) -> str:
        """A fixed, printable return value of a type (what the stub returns)."""
        source = _source_name(java_type)
        if java_type == "boolean":
            return "true"
        if java_type in ("int", "short", "byte"):
            return f"({java_type}) 7"
        if java_type == "long":
            return "7L"
        if java_type == "float":
            return "7.5f"
        if java_type == "double":
            return "31.2304"
        if java_type == "char":
            return "'x'"
        if java_type in ("java.lang.String", "java.lang.CharSequence", "java.lang.Object"):
            return json.dumps(f"{entry.method}-value")
        if java_type == "byte[]":
            return "new byte[] {2, 0, 0, 17, 34, 51}"
        if java_type == "java.lang.String[]":
            return 'new java.lang.String[] {"0", "1"}'
        if java_type in ("java.util.List", "java.util.Collection", "java.util.ArrayList", "java.util.Set", "java.util.Enumeration"):
            items = self.list_items(entry)
            if java_type == "java.util.Set":
                return f"new java.util.LinkedHashSet<java.lang.Object>(java.util.Arrays.asList({items}))"
            if java_type == "java.util.Enumeration":
                return f"java.util.Collections.enumeration(java.util.Arrays.asList({items}))"
            return f"new java.util.ArrayList<java.lang.Object>(java.util.Arrays.asList({items}))"
        if java_type == "java.util.Map":
            return 'new java.util.TreeMap<java.lang.String, java.lang.String>(java.util.Map.of("k", "v"))'
        if java_type == "java.io.File":
            return 'new java.io.File("/storage/emulated/0")'
        if java_type == "java.io.InputStream":
            return "new java.io.ByteArrayInputStream(new byte[] {1, 2})"
        if java_type.endswith("[]") and _is_generated(java_type):
            element = java_type[:-2]
            self.stub(element)
            if entry.record.item:
                self.add_member(element, entry.record.item)
            return f"new {_source_name(element)}[] {{new {_source_name(element)}(), new {_source_name(element)}()}}"
        if _is_generated(java_type):
            stub = self.stub(java_type)
            for name in entry.record.fields:
                self.add_member(stub.name, name)
            return f"new {source}()"
        return "null"

    def list_items(self, entry: HookEntry) -> str:
        if entry.record.item:
            self.item_members.add(entry.record.item)
            return ", ".join(f'new {STUB_PACKAGE}.Item("{entry.method}-{n}")' for n in range(3))
        return ", ".join(json.dumps(f"{entry.method}-{n}") for n in range(3))

    def add_member(self, class_name: str, name: str) -> None:
        stub = self.stub(class_name)
        declared = {sig.split("(")[0].rsplit(" ", 1)[-1] for sig in stub.methods}
        if name in declared or name in stub.members:
            return
        if re.match(r"^(get|is|has|flatten)[A-Z]", name):
            stub.members[name] = f'public java.lang.String {name}() {{ return "{name}-value"; }}'
        else:
            stub.members[name] = f'public java.lang.String {name} = "{name}-value";'

    def add_path(self, java_type: str, path: list[str]) -> None:
        """Arguments walked by a `when` or payload path: each step returns a Step carrying the text."""
        if not path or not _is_generated(java_type):
            return
        first, rest = path[0], path[1:]
        stub = self.stub(java_type)
        if first not in stub.members:
            name, _, _ = first.partition(":")
            parameter = "java.lang.String key" if ":" in first else ""
            stub.members[name] = f"public {STUB_PACKAGE}.Step {name}({parameter}) {{ return new {STUB_PACKAGE}.Step(stubText); }}"
        for step in rest:
            name, colon, _ = step.partition(":")
            self.step_names[name] = bool(colon)

    def method_source(self, entry: HookEntry, signature: str, owner: str) -> str:
        returns = return_type(signature)
        params = parameter_types(signature)
        static = "static " if is_static(signature) else ""
        declared = ", ".join(f"{_source_name(p)} a{i}" for i, p in enumerate(params))
        for p in params:
            if _is_generated(p):
                self.stub(p)
        if _is_generated(returns):
            self.stub(returns)
        body = f'if ({STUB_PACKAGE}.Mode.failing) throw {STUB_PACKAGE}.Mode.fail("{owner}.{entry.method}");'
        if returns != "void":
            body += f" return {self.value_for(returns, entry)};"
        return f"public {static}{_source_name(returns)} {entry.method}({declared}) {{ {body} }}"

    # ---- calls ---------------------------------------------------------------------------------
    def argument(self, java_type: str, position: int, when: When | None, subject: str | None, command: str = "") -> str:
        tested = when is not None and when.arg == position and subject is not None
        if tested and not when.path:  # type: ignore[union-attr]
            if java_type in ("java.lang.String", "java.lang.Object", "java.lang.CharSequence"):
                return json.dumps(command + subject)
            if java_type == "java.lang.String[]":
                words = (command + subject).split() if command else [subject]
                return "new java.lang.String[] {" + ", ".join(json.dumps(word) for word in words) + "}"
        if tested and _is_generated(java_type) and not java_type.endswith("[]"):
            return f"{STUB_PACKAGE}.Mode.withText(new {_source_name(java_type)}(), {json.dumps(subject)})"
        defaults = {
            "boolean": "false", "byte": "(byte) 0", "char": "'a'", "short": "(short) 0", "int": "0", "long": "0L",
            "float": "0f", "double": "0d", "java.lang.String": '"s"', "java.lang.CharSequence": '"s"',
            "java.lang.Object": '"o"', "java.lang.String[]": '{"android.permission.CAMERA", "android.permission.READ_CONTACTS"}',
            "int[]": "new int[] {0, -1}", "byte[]": "new byte[] {1}", "short[]": "new short[] {1}",
            "java.lang.Object[]": 'new java.lang.Object[] {"ro.build.version.sdk"}',
            "java.util.List": 'new java.util.ArrayList<java.lang.Object>(java.util.List.of("a"))',
            "java.util.ArrayList": 'new java.util.ArrayList<java.lang.Object>(java.util.List.of("a"))',
            "java.util.Map": "new java.util.HashMap<java.lang.String, java.lang.String>()",
            "java.util.concurrent.Executor": "(java.util.concurrent.Executor) java.lang.Runnable::run",
            "java.util.function.Consumer": "(java.util.function.Consumer<java.lang.Object>) value -> { }",
            "java.io.File": 'new java.io.File("/tmp")', "java.nio.ByteBuffer": "java.nio.ByteBuffer.allocate(4)",
            "java.net.SocketAddress": 'java.net.InetSocketAddress.createUnresolved("push.example.invalid", 5224)',
        }
        if java_type == "java.lang.String[]":
            return "new java.lang.String[] " + defaults[java_type]
        if java_type in defaults:
            return defaults[java_type]
        if java_type.endswith("[]"):
            return f"new {_source_name(java_type[:-2])}[0]"
        if _is_generated(java_type):
            return f"new {_source_name(java_type)}()"
        return f"({_source_name(java_type)}) null"

    def expected(self, entry: HookEntry, subject: str | None) -> HookEntry | None:
        for candidate in self.groups[f"{entry.hook_class}#{entry.method}"]:
            if _when_holds(candidate.when, subject):
                return candidate
        return None

    def add_call(self, entry: HookEntry, signature: str, mode: str) -> None:
        when = entry.when
        subject = None if when is None or when.receiver else _subject(when, mode != "nomatch")
        if mode == "nomatch" and subject is not None:
            # Text for which no entry of this method holds (an `in` list and an other_package entry
            # share bindService: a made-up package would still be "another app's").
            candidates = [subject, OWN_PACKAGE, f"content://{OWN_PACKAGE}/data"]
            subject = next((text for text in candidates if self.expected(entry, text) is None), None)
            if subject is None:
                return
        jdk = _is_jdk(entry.hook_class)
        if jdk:
            match_receiver, nomatch_receiver = JDK_RECEIVERS[entry.hook_class]
            receiver = nomatch_receiver if mode == "nomatch" and nomatch_receiver else match_receiver
            if when is not None and when.receiver:
                subject = "receiver-match" if mode != "nomatch" else None
        else:
            receiver = f"(({_source_name(entry.class_name)}) new {_source_name(entry.hook_class)}())"
        if is_static(signature):
            receiver = _source_name(entry.class_name)
        params = parameter_types(signature)
        command = COMMAND_PREFIX.get(entry.hook_class, "")
        arguments = ", ".join(self.argument(p, i, when, subject, command) for i, p in enumerate(params))
        fired = self.expected(entry, subject) if not (when is not None and when.receiver) else (entry if subject else None)
        if fired is not None and fired.record.thrown_only and mode != "throw":
            fired = None  # recorded only when the call throws (a pin check failing)
        index = len(self.calls)
        self.calls.append(Call(index=index, api=entry.api, signature=signature, mode=mode,
                               expect_category=fired.category if fired else None,
                               expect_kind=fired.kind if fired else None, subject=subject))
        expression = f"{receiver}.{entry.method}({arguments})"
        returns_void = return_type(signature) == "void"
        invoke = f"{expression};" if returns_void else f"result = {expression};"
        failing = "true" if mode == "throw" else "false"
        self.call_sources.append(
            f"        {STUB_PACKAGE}.Mode.failing = {failing};\n"
            f"        try {{ java.lang.Object result = null; {invoke} Out.returned({index}, result, {json.dumps(returns_void)}); }}\n"
            f"        catch (java.lang.Throwable thrown) {{ Out.threw({index}, thrown); }}\n")

    # ---- sources -------------------------------------------------------------------------------
    def generate(self) -> dict[str, str]:
        for entry in self.catalogue.hooks:
            if _is_jdk(entry.hook_class):
                continue
            public = self.stub(entry.class_name)
            implementation = self.stub(entry.hook_class)
            if entry.impl is not None and implementation.extends is None:
                implementation.extends = entry.class_name
            for signature in entry.signatures:
                for owner in {public.name, implementation.name}:
                    self.classes[owner].methods.setdefault(signature, self.method_source(entry, signature, owner))
            params = parameter_types(entry.signatures[0])
            for spec in [entry.when] + list(entry.record.payload.values()):
                if spec is None or getattr(spec, "arg", None) is None or not spec.path:
                    continue
                for signature in entry.signatures:
                    types = parameter_types(signature)
                    if spec.arg < len(types):
                        self.add_path(types[spec.arg], spec.path)
            del params
        for entry in self.catalogue.hooks:
            for signature in entry.signatures:
                self.add_call(entry, signature, "match")
                if not _is_jdk(entry.hook_class):
                    self.add_call(entry, signature, "throw")
                if entry.when is not None:
                    self.add_call(entry, signature, "nomatch")
        files: dict[str, str] = {}
        for name, stub in sorted(self.classes.items()):
            if "$" in name:
                continue
            files[name.replace(".", "/") + ".java"] = self.class_source(stub)
        files.update(self.support_sources())
        return files

    def class_source(self, stub: StubClass, nested: bool = False) -> str:
        simple = stub.name.rsplit("$", 1)[-1].rsplit(".", 1)[-1]
        extends = f" extends {_source_name(stub.extends)}" if stub.extends else ""
        lines = []
        if not nested:
            lines.append(f"package {stub.name.rsplit('.', 1)[0]};\n")
        static = "static " if nested else ""
        lines.append(f"/** Stub generated from the hook catalogue by monitor/testing/stubgen. */\npublic {static}class {simple}{extends} {{")
        lines.append("    public java.lang.String stubText;")
        lines.append(f'    @Override public java.lang.String toString() {{ return stubText != null ? stubText : "{simple}#stub"; }}')
        for source in stub.methods.values():
            lines.append("    " + source)
        declared = {signature.split("(")[0].rsplit(" ", 1)[-1] for signature in stub.methods}
        for name, source in stub.members.items():
            if name not in declared:  # a catalogue method of that name already answers
                lines.append("    " + source)
        for name, child in sorted(self.classes.items()):
            if name.rsplit("$", 1)[0] == stub.name and "$" in name and name.count("$") == stub.name.count("$") + 1:
                lines.append(self.class_source(child, nested=True))
        lines.append("}\n")
        return "\n".join(lines)

    def support_sources(self) -> dict[str, str]:
        base = STUB_PACKAGE.replace(".", "/")
        steps = "\n".join(
            f"    public Step {name}({'java.lang.String key' if takes else ''}) {{ return new Step(text); }}"
            for name, takes in sorted(self.step_names.items()))
        items = "\n".join(f'    public java.lang.String {name} = "{name}-value";' if not re.match(r"^(get|is)[A-Z]", name)
                          else f"    public java.lang.String {name}() {{ return label + \"-{name}\"; }}"
                          for name in sorted(self.item_members))
        return {
            f"{base}/Mode.java": f"""package {STUB_PACKAGE};

/** How the stubs behave for the next call: return their value, or throw a fresh exception. */
public final class Mode {{
    public static volatile boolean failing;
    public static volatile java.lang.RuntimeException last;

    public static java.lang.RuntimeException fail(java.lang.String api) {{
        last = new java.lang.IllegalStateException("stub failure in " + api);
        return last;
    }}

    public static <T> T withText(T stub, java.lang.String text) {{
        try {{
            stub.getClass().getField("stubText").set(stub, text);
        }} catch (java.lang.ReflectiveOperationException error) {{
            throw new java.lang.IllegalStateException(error);
        }}
        return stub;
    }}
}}
""",
            f"{base}/Step.java": f"""package {STUB_PACKAGE};

/** One step of a member path (Intent.getComponent().getPackageName()): carries the tested text. */
public final class Step {{
    private final java.lang.String text;
    public Step(java.lang.String text) {{ this.text = text; }}
    @Override public java.lang.String toString() {{ return text; }}
{steps}
}}
""",
            f"{base}/Item.java": f"""package {STUB_PACKAGE};

/** An element of a returned list, with the member the catalogue names items by. */
public final class Item {{
    private final java.lang.String label;
    public Item(java.lang.String label) {{ this.label = label; }}
    @Override public java.lang.String toString() {{ return label; }}
{items}
}}
""",
            f"{base}/EarlyCall.java": f"""package {STUB_PACKAGE};

/** Reads the Android ID in the very first statement of main: a monitor that hooks late misses it. */
public final class EarlyCall {{
    public static void main(java.lang.String[] args) {{
        java.lang.String androidId = android.provider.Settings.Secure.getString(null, "android_id");
        System.out.println("{{\\"android_id\\": \\"" + androidId + "\\"}}");
    }}
}}
""",
            f"{base}/Exerciser.java": f"""package {STUB_PACKAGE};

/** Calls every catalogue signature; one JSON line per call with what the program saw. */
public final class Exerciser {{
    static final class Out {{
        static java.lang.String quote(java.lang.String text) {{
            StringBuilder out = new StringBuilder("\\"");
            for (char c : text.toCharArray()) {{
                if (c == '"' || c == '\\\\') out.append('\\\\').append(c);
                else if (c < 32) out.append(String.format("\\\\u%04x", (int) c));
                else out.append(c);
            }}
            return out.append('"').toString();
        }}

        static java.lang.String describe(java.lang.Object value) {{
            if (value == null) return "null";
            if (value instanceof byte[]) return java.util.Arrays.toString((byte[]) value);
            if (value instanceof int[]) return java.util.Arrays.toString((int[]) value);
            if (value instanceof java.lang.Object[]) return java.util.Arrays.deepToString((java.lang.Object[]) value);
            if (value instanceof java.util.Enumeration) return "Enumeration";
            if (value instanceof java.lang.Process) {{
                try {{ return "Process exit " + ((java.lang.Process) value).waitFor(); }}
                catch (java.lang.InterruptedException error) {{ return "Process interrupted"; }}
            }}
            java.lang.String text = java.lang.String.valueOf(value);
            java.lang.String identity = value.getClass().getName() + "@" + java.lang.Integer.toHexString(value.hashCode());
            return text.equals(identity) ? value.getClass().getName() : text;
        }}

        static void returned(int index, java.lang.Object value, boolean isVoid) {{
            System.out.println("{{\\"i\\": " + index + ", \\"returned\\": " + quote(isVoid ? "void" : describe(value)) + "}}");
        }}

        static void threw(int index, java.lang.Throwable thrown) {{
            boolean same = thrown == Mode.last;
            System.out.println("{{\\"i\\": " + index + ", \\"threw\\": " + quote(thrown.getClass().getName() + ": " + thrown.getMessage())
                + ", \\"same_object\\": " + same + "}}");
        }}
    }}

    public static void main(java.lang.String[] args) {{
{''.join(self.call_sources)}        Mode.failing = false;
        System.out.println("{{\\"done\\": " + {len(self.calls)} + "}}");
    }}
}}
""",
        }


def generate(catalogue: Catalogue) -> tuple[dict[str, str], list[Call]]:
    generator = Generator(catalogue)
    files = generator.generate()
    return files, generator.calls


def plan(catalogue: Catalogue) -> list[Call]:
    return generate(catalogue)[1]


def build_stubs(catalogue: Catalogue, cache: Path | None = None) -> tuple[Path, list[Call]]:
    """Generate and compile (cached by the sources' hash); returns (classes dir, call plan)."""
    files, calls = generate(catalogue)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    classes = (cache or cache_root()) / "stubgen" / digest.hexdigest()[:16]
    if (classes / ".complete").exists():
        return classes, calls
    javac = shutil.which("javac")
    if javac is None:
        raise TargetError("javac is not on PATH; the stub program is Java", hint="install a JDK (openjdk-17-jdk-headless)")
    staging = classes.with_name(classes.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    sources = staging / "src"
    for name, text in files.items():
        path = sources / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    out = staging / "classes"
    out.mkdir(parents=True)
    result = subprocess.run([javac, "-nowarn", "-encoding", "UTF-8", "-d", str(out), *map(str, sorted(sources.rglob("*.java")))],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise TargetError(f"javac failed on the generated stubs:\n{result.stderr.strip()[:4000]}",
                          hint="a catalogue signature names a type the generator cannot declare")
    (out / ".complete").write_text(digest.hexdigest())
    shutil.rmtree(classes, ignore_errors=True)
    out.rename(classes)
    shutil.rmtree(staging, ignore_errors=True)
    return classes, calls


def exerciser_command(classes: Path) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise TargetError("java is not on PATH", hint="install a JDK (openjdk-17-jdk-headless)")
    return [java, "-Xshare:auto", "-cp", str(classes), EXERCISER]
