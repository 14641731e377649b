"""Java 8 lambdas and method references on host ART (tests/support/art/kit/tools/Desugar.java).

javac compiles a lambda to an invokedynamic call site whose bootstrap is LambdaMetafactory; on a phone D8
rewrites each into a class of its own before anything runs, and Android's LambdaMetafactory (which returns null)
is never called. Debian has no D8, so the host build stands in for it: every class jar is desugared the same
way before dx — the boot class path (libcore's own lambdas: streams, Collectors, DexPathList), the test
programs, the library jars they bundle. The lambda objects are then what a phone has: instances of
`Host$$ExternalSyntheticLambdaN`, defined by the class loader like any class of the app (the agent's class watch
sees them), with the lambda's body in a method of its host class.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from monitor.hostart import HostArt

from support.art.build import desugar_command
from support.art.dex import dex_jar

pytestmark = pytest.mark.timeout(900)   # the first test may build the runtime

MAIN = """
package com.example.lambdas;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.IntBinaryOperator;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;
import java.util.stream.Collectors;

public class Main {
    interface Mapper<A, B> { B map(A value); }
    interface Base<T> { T get(); }
    interface Name extends Base<String> { String get(); }   // a lambda of it needs the bridge get()Object
    interface Greeter {
        String name();
        default Supplier<String> greeting(String word) { return () -> word + ", " + name(); }   // in an interface
    }

    private final String tag;
    private Main(String tag) { this.tag = tag; }
    private String secret(int n) { return tag + "#" + n; }
    private static String shout(String text) { return text.toUpperCase(); }
    Supplier<String> tagged(String suffix) { return () -> tag + suffix; }   // captures this
    static Runnable quiet() { return () -> { }; }

    public static void main(String[] args) throws Exception {
        Runnable plain = () -> {
            StackTraceElement[] stack = new Throwable().getStackTrace();
            System.out.println("non-capturing " + stack[0].getMethodName() + " <- " + stack[1].getClassName() + "." + stack[1].getMethodName());
        };
        plain.run();
        System.out.println("one instance " + (quiet() == quiet()) + " " + plain.getClass().getName());
        int base = 40;
        String word = "captured";
        IntBinaryOperator add = (a, b) -> a + b + base;
        System.out.println(word + " " + add.applyAsInt(1, 1));
        Function<String, Integer> parse = Integer::parseInt;                        // static
        String prefix = "bound-";
        Function<String, String> concat = prefix::concat;                            // bound
        ToIntFunction<String> length = String::length;                               // unbound
        Supplier<List<String>> list = ArrayList::new;                                 // constructor
        BiFunction<Main, Integer, String> secret = Main::secret;                      // private, unbound
        Function<String, Main> make = Main::new;                                      // private constructor
        Function<String, String> shout = Main::shout;                                 // private static
        List<String> names = list.get();
        names.add(concat.apply("x"));
        System.out.println("references " + (parse.apply("41") + 1) + " " + names + " " + length.applyAsInt("four")
                           + " " + secret.apply(make.apply("m"), 7) + " " + shout.apply("hey"));
        Mapper<String, List<Integer>> mapper = text -> Arrays.asList(text.length(), text.indexOf('n'));
        System.out.println("generic " + mapper.map("generic"));
        Supplier<Long> boxed = () -> 5L;
        Callable<Object> call = new Main("t").tagged("!")::get;
        System.out.println("boxing " + (boxed.get() + 1) + " " + call.call());
        Name name = () -> "bridged";
        @SuppressWarnings("unchecked") Base<Object> erased = (Base<Object>) (Base<?>) name;
        System.out.println("bridge " + name.get() + " " + erased.get());
        Runnable marked = (Runnable & Serializable) () -> System.out.println("marker interfaces");
        marked.run();
        System.out.println("serializable " + (marked instanceof Serializable));
        Greeter greeter = () -> "ART";
        System.out.println(greeter.greeting("hello").get());
        Comparator<String> byLength = (a, b) -> a.length() - b.length();
        List<String> sorted = new ArrayList<>(Arrays.asList("ccc", "a", "bb"));
        sorted.sort(byLength.reversed());                                             // a default method of the interface
        System.out.println("sorted " + sorted);
        System.out.println("stream " + Arrays.asList(3, 1, 2).stream().map(x -> x * 2).sorted(Comparator.reverseOrder())
                           .map(String::valueOf).collect(Collectors.joining(",")));
        // A dex handed over in memory: InMemoryDexClassLoader's DexPathList (libcore) uses a lambda.
        byte[] dex;
        try (java.util.zip.ZipFile jar = new java.util.zip.ZipFile(args[0])) {
            java.io.InputStream in = jar.getInputStream(jar.getEntry("classes.dex"));
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            byte[] chunk = new byte[8192];
            for (int n; (n = in.read(chunk)) > 0; ) out.write(chunk, 0, n);
            dex = out.toByteArray();
        }
        ClassLoader loader = new dalvik.system.InMemoryDexClassLoader(ByteBuffer.wrap(dex), Main.class.getClassLoader());
        Class<?> plugin = loader.loadClass("com.example.plugin.Plugin");
        @SuppressWarnings("unchecked")
        Supplier<String> fromPlugin = (Supplier<String>) plugin.getDeclaredConstructor().newInstance();
        System.out.println("in-memory " + fromPlugin.get() + " " + plugin.getClassLoader().getClass().getName());
    }
}
"""

PLUGIN = """
package com.example.plugin;
public class Plugin implements java.util.function.Supplier<String> {
    public String get() {
        java.util.function.Function<String, String> twice = text -> text + text;
        return twice.apply("plugin");
    }
}
"""

EXPECTED = [
    # The body is the host's method, called by the lambda's class: the stack a phone shows (D8).
    "non-capturing lambda$main$2 <- com.example.lambdas.Main$$ExternalSyntheticLambda2.run",
    "one instance true com.example.lambdas.Main$$ExternalSyntheticLambda2",
    "captured 42",
    "references 42 [bound-x] 4 m#7 HEY",
    "generic [7, 2]",
    "boxing 6 t!",
    "bridge bridged bridged",
    "marker interfaces",
    "serializable true",
    "hello, ART",
    "sorted [ccc, bb, a]",
    "stream 6,4,2",
    "in-memory pluginplugin dalvik.system.InMemoryDexClassLoader",
]


def test_lambdas_method_references_and_in_memory_dex_run_on_host_art(art10: HostArt, tmp_path: Path) -> None:
    app = dex_jar(art10, {"com/example/lambdas/Main.java": MAIN}, name="lambdas-app")
    plugin = dex_jar(art10, {"com/example/plugin/Plugin.java": PLUGIN}, name="lambdas-plugin")
    result = subprocess.run(art10.command("com.example.lambdas.Main", classpath=[app.dex], args=[str(plugin.dex)]),
                            env=art10.environment(tmp_path), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == EXPECTED


def test_the_desugarer_leaves_classes_without_lambdas_untouched(art10: HostArt, tmp_path: Path) -> None:
    app = dex_jar(art10, {"com/example/lambdas/Main.java": MAIN, "com/example/plugin/Plugin.java": PLUGIN,
                          "com/example/plain/Plain.java": "package com.example.plain;\n"
                          "public class Plain { public int twice(int x) { return 2 * x; } }\n"}, name="lambdas-both")
    out = tmp_path / "desugared.jar"
    done = subprocess.run(desugar_command(art10.home, out, app.classes), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(app.classes) as before, zipfile.ZipFile(out) as after:
        plain = "com/example/plain/Plain.class"
        assert before.read(plain) == after.read(plain)
        added = sorted(set(after.namelist()) - set(before.namelist()))
        assert "com/example/plugin/Plugin$$ExternalSyntheticLambda0.class" in added
        assert len([name for name in added if name.startswith("com/example/lambdas/Main$$ExternalSyntheticLambda")]) == 20


def _library_jar(art10: HostArt, folder: Path, greeting: str) -> Path:
    """A class jar a program bundles (as Debian's okhttp.jar), with a lambda of its own."""
    source = folder / "src/com/example/lib/Greeter.java"
    source.parent.mkdir(parents=True)
    source.write_text("package com.example.lib;\npublic final class Greeter {\n"
                      "  public static java.util.function.Function<String, String> greeter() {\n"
                      f"    return name -> \"{greeting}, \" + name; }}\n}}\n")
    classes = folder / "classes"
    subprocess.run(art10.javac_command(classes, [source]), check=True, capture_output=True, timeout=120)
    jar = folder / "greeter.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True, capture_output=True, timeout=60)
    return jar


def test_library_jars_are_desugared_into_the_apps_dex_and_key_its_cache_by_their_bytes(art10: HostArt, tmp_path: Path) -> None:
    main = {"com/example/uses/Main.java": "package com.example.uses;\npublic class Main { public static void main(String[] a) {\n"
            "  System.out.println(com.example.lib.Greeter.greeter().apply(\"ART\")); } }\n"}
    library = _library_jar(art10, tmp_path / "one", "hello")
    app = dex_jar(art10, main, name="lambdas-library", libraries=[library])
    result = subprocess.run(art10.command("com.example.uses.Main", classpath=[app.dex]), env=art10.environment(tmp_path / "data"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["hello, ART"]
    changed = _library_jar(art10, tmp_path / "two", "bye")
    library.write_bytes(changed.read_bytes())   # the same path, other bytes: another dex
    assert dex_jar(art10, main, name="lambdas-library", libraries=[library]).dex != app.dex


# The corners of LambdaMetafactory's adaptations, run on the JDK (its own LambdaMetafactory) and on host ART
# (desugared): the same output.
CORNERS = """
package com.example.corners;

import java.util.AbstractMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.*;

public class Corners extends Base {
    interface Widening { long of(Integer value); }
    interface Narrow { Object make(int a, long b, double c); }
    class Inner { final String text; Inner(String text) { this.text = text + "@" + tag(); } }

    String tag() { return "corners"; }
    @Override String name() { return "sub"; }

    void run() {
        long big = 1L << 40;
        double half = 0.5;
        LongSupplier wide = () -> big + (long) (half * 4);                            // two-slot captures
        System.out.println("wide " + wide.getAsLong());
        IntFunction<String[]> array = String[]::new;                                 // array constructor
        Function<String, List<String>> varargs = Arrays::asList;                     // varargs
        Supplier<String> parent = super::name;                                       // super
        Function<String, Inner> inner = Inner::new;                                  // inner class constructor
        Function<Map.Entry<String, Integer>, String> key = Map.Entry::getKey;         // interface method
        Widening widening = Integer::intValue;                                       // int result, long wanted
        ToIntFunction<Integer> unboxing = Integer::intValue;
        Narrow narrow = (a, b, c) -> a + b + c;                                       // primitives in, boxed out
        BinaryOperator<Integer> max = Math::max;                                     // unbox both, box the result
        Predicate<String> empty = String::isEmpty;
        System.out.println("array " + array.apply(3).length + " varargs " + varargs.apply("v")
                           + " super " + parent.get() + " inner " + inner.apply("i").text);
        System.out.println("entry " + key.apply(new AbstractMap.SimpleEntry<>("k", 1)) + " widening " + widening.of(7)
                           + " unboxing " + unboxing.applyAsInt(8) + " narrow " + narrow.make(1, 2L, 0.5)
                           + " max " + max.apply(3, 9) + " negate " + empty.negate().test(""));
        Runnable nested = () -> {
            Supplier<String> deeper = () -> "nested " + tag();                        // a lambda in a lambda, capturing this
            System.out.println(deeper.get());
        };
        nested.run();
    }

    public static void main(String[] args) {
        new Corners().run();
    }
}
"""
CORNERS_BASE = """
package com.example.corners;
class Base { String name() { return "base"; } }
"""


def test_corner_cases_give_on_art_what_they_give_on_the_jdk(art10: HostArt, tmp_path: Path) -> None:
    sources = {"com/example/corners/Corners.java": CORNERS, "com/example/corners/Base.java": CORNERS_BASE}
    app = dex_jar(art10, sources, name="lambdas-corners")
    on_art = subprocess.run(art10.command("com.example.corners.Corners", classpath=[app.dex]),
                            env=art10.environment(tmp_path), capture_output=True, text=True, timeout=120)
    assert on_art.returncode == 0, on_art.stderr[-3000:]
    on_jdk = subprocess.run(["java", "-cp", str(app.classes), "com.example.corners.Corners"], capture_output=True, text=True,
                            timeout=120)
    assert on_jdk.returncode == 0, on_jdk.stderr[-3000:]
    assert on_art.stdout.splitlines() == on_jdk.stdout.splitlines()
    assert on_art.stdout.splitlines()[0] == f"wide {(1 << 40) + 2}"
