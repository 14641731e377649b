"""Callbacks the app overrides and classes that appear later, on a real JVM under the real agent.

The program models what apps do: its activity overrides onRequestPermissionsResult without calling super
(the answer reaches it through Activity's private dispatch, as on Android), its location listeners
implement LocationListener (one calls super, one does not), and mid-run it loads an OAID helper SDK class
through a fresh URLClassLoader — twice, in two loaders — together with a listener class of that SDK. Each
output line is what the app saw; the same program runs with and without the agent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from monitor.agent.session import AgentOptions

from agentrun import AgentRun, run_under_agent

pytestmark = pytest.mark.frida

# Framework stubs with Android's names and signatures (only what the program touches).
FRAMEWORK = {
    "android/content/Context.java": """
package android.content;
public class Context { }
""",
    "android/content/Intent.java": """
package android.content;
public class Intent {
    private final java.util.Map<String, Object> extras = new java.util.HashMap<>();
    public Intent putExtra(String name, String[] value) { extras.put(name, value); return this; }
    public Intent putExtra(String name, int[] value) { extras.put(name, value); return this; }
    public String[] getStringArrayExtra(String name) { return (String[]) extras.get(name); }
    public int[] getIntArrayExtra(String name) { return (int[]) extras.get(name); }
}
""",
    "android/app/Activity.java": """
package android.app;
import android.content.Intent;
public class Activity {
    static final String REQUEST_PERMISSIONS_WHO_PREFIX = "@android:requestPermissions:";
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) { }
    // ActivityThread → Activity.dispatchActivityResult → the private dispatch (AOSP Activity.java).
    void dispatchActivityResult(String who, int requestCode, int resultCode, Intent data, String reason) {
        if (who != null && who.startsWith(REQUEST_PERMISSIONS_WHO_PREFIX)) {
            dispatchRequestPermissionsResult(requestCode, data);
        }
    }
    private void dispatchRequestPermissionsResult(int requestCode, Intent data) {
        String[] permissions = data != null ? data.getStringArrayExtra("android.content.pm.extra.REQUEST_PERMISSIONS_NAMES") : new String[0];
        int[] results = data != null ? data.getIntArrayExtra("android.content.pm.extra.REQUEST_PERMISSIONS_RESULTS") : new int[0];
        onRequestPermissionsResult(requestCode, permissions, results);
    }
}
""",
    "android/app/ActivityThread.java": """
package android.app;
public final class ActivityThread {
    // What the system does when the user answered the prompt.
    public static void deliverPermissionAnswer(Activity activity, int requestCode, String[] names, int[] results) {
        android.content.Intent data = new android.content.Intent()
            .putExtra("android.content.pm.extra.REQUEST_PERMISSIONS_NAMES", names)
            .putExtra("android.content.pm.extra.REQUEST_PERMISSIONS_RESULTS", results);
        activity.dispatchActivityResult(Activity.REQUEST_PERMISSIONS_WHO_PREFIX + requestCode, requestCode, -1, data, "answer");
    }
}
""",
    "android/location/Location.java": """
package android.location;
public class Location {
    private final double latitude, longitude;
    public Location(double latitude, double longitude) { this.latitude = latitude; this.longitude = longitude; }
    public double getLatitude() { return latitude; }
    public double getLongitude() { return longitude; }
    @Override public String toString() { return "Location[fused " + latitude + "," + longitude + "]"; }
}
""",
    "android/location/LocationListener.java": """
package android.location;
public interface LocationListener {
    void onLocationChanged(Location location);
}
""",
    "android/location/LocationManager.java": """
package android.location;
public class LocationManager {
    // The framework's delivery of a fix: a private transport calling the app's listener.
    public void deliver(LocationListener listener, Location location) { listener.onLocationChanged(location); }
}
""",
}

APP = {
    "com/example/late/MainActivity.java": """
package com.example.late;
public class MainActivity extends android.app.Activity {
    // Handles the answer itself; never calls super (most apps do exactly this).
    @Override public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) {
        System.out.println("answer " + requestCode + " " + permissions[0] + " " + grantResults[0]);
    }
}
""",
    "com/example/late/PoliteActivity.java": """
package com.example.late;
public class PoliteActivity extends android.app.Activity {
    @Override public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults);
        System.out.println("polite answer " + grantResults[0]);
    }
}
""",
    "com/example/late/Tracker.java": """
package com.example.late;
public class Tracker implements android.location.LocationListener {
    public void onLocationChanged(android.location.Location location) {
        System.out.println("fix " + location.getLatitude());
    }
}
""",
    "com/example/late/ChildTracker.java": """
package com.example.late;
public class ChildTracker extends Tracker {
    @Override public void onLocationChanged(android.location.Location location) {
        super.onLocationChanged(location);
        System.out.println("child fix");
    }
}
""",
    "com/example/late/App.java": """
package com.example.late;
import java.net.URL;
import java.net.URLClassLoader;
public class App {
    public static void main(String[] args) throws Exception {
        MainActivity main = new MainActivity();
        android.app.ActivityThread.deliverPermissionAnswer(main, 7, new String[]{"android.permission.READ_PHONE_STATE"}, new int[]{-1});
        android.app.ActivityThread.deliverPermissionAnswer(new PoliteActivity(), 8, new String[]{"android.permission.CAMERA"}, new int[]{0});
        android.location.LocationManager manager = new android.location.LocationManager();
        manager.deliver(new Tracker(), new android.location.Location(31.23, 121.47));
        manager.deliver(new ChildTracker(), new android.location.Location(39.9, 116.4));
        // Mid-run, an SDK's classes come through fresh class loaders (a plugin, a packer's unpacked dex).
        URL sdk = new java.io.File(args[0]).toURI().toURL();
        for (int round = 0; round < 2; round++) {
            URLClassLoader loader = new URLClassLoader(new URL[]{sdk}, App.class.getClassLoader());
            Class<?> provider = loader.loadClass("com.android.id.impl.IdProviderImpl");
            Object instance = provider.getDeclaredConstructor().newInstance();
            Object oaid = provider.getMethod("getOAID", android.content.Context.class).invoke(instance, new android.content.Context());
            System.out.println("oaid " + oaid + " from loader " + round);
            Object listener = loader.loadClass("com.sdk.late.SdkLocationListener").getDeclaredConstructor().newInstance();
            manager.deliver((android.location.LocationListener) listener, new android.location.Location(22.5, 114.1));
        }
        // The answer again, and a call after the SDK's classes are in: every hook still in place.
        android.app.ActivityThread.deliverPermissionAnswer(main, 9, new String[]{"android.permission.READ_PHONE_STATE"}, new int[]{-1});
    }
}
""",
}

# Not on the class path: only the fresh loaders see it.
SDK = {
    "com/android/id/impl/IdProviderImpl.java": """
package com.android.id.impl;
public class IdProviderImpl {
    public String getOAID(android.content.Context context) { return "oaid-5f2a9c"; }
}
""",
    "com/sdk/late/SdkLocationListener.java": """
package com.sdk.late;
public class SdkLocationListener implements android.location.LocationListener {
    public void onLocationChanged(android.location.Location location) { System.out.println("sdk fix " + location.getLongitude()); }
}
""",
}


def _compile(sources: dict[str, str], root: Path, out: Path, classpath: Path | None = None) -> None:
    files = []
    for name, text in sources.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(str(path))
    command = ["javac", "-d", str(out)] + (["-cp", str(classpath)] if classpath else []) + files
    subprocess.run(command, check=True, capture_output=True, timeout=180)


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("late")
    classes, sdk = root / "classes", root / "sdk"
    _compile({**FRAMEWORK, **APP}, root / "src", classes)
    _compile(SDK, root / "sdk-src", sdk, classpath=classes)
    return ["/usr/bin/java", "-cp", str(classes), "com.example.late.App", str(sdk)]


@pytest.fixture(scope="module")
def runs(program) -> tuple[list[str], AgentRun]:
    plain = subprocess.run(program, check=True, capture_output=True, text=True, timeout=120).stdout.splitlines()
    hooked = run_under_agent(program, options=AgentOptions(wait_for_jvm=True, importance_poll_ms=0))
    return plain, hooked


def _events(run: AgentRun, api: str) -> list[dict]:
    return [event for event in run.sink.hooks() if event["api"] == api]


def test_the_app_sees_exactly_what_it_sees_without_the_agent(runs) -> None:
    plain, hooked = runs
    assert hooked.stdout_lines() == plain
    assert len(plain) == 10


def test_an_answer_the_app_handles_itself_is_recorded_once_per_answer(runs) -> None:
    _, run = runs
    answers = _events(run, "android.app.Activity.dispatchRequestPermissionsResult")
    # Three answers: the overriding activity (twice), the one calling super (once, not twice).
    assert [(event["payload"]["permissions"], event["payload"]["results"]) for event in answers] == [
        (["android.permission.READ_PHONE_STATE"], ["denied"]),
        (["android.permission.CAMERA"], ["granted"]),
        (["android.permission.READ_PHONE_STATE"], ["denied"]),
    ]
    assert all(event["kind"] == "permission" and event["category"] == "permission_result" for event in answers)
    # Its stack starts at the code that delivered it (the dispatch frame itself is left out).
    assert answers[0]["stack"][0].startswith("android.app.Activity.dispatchActivityResult(")


def test_overriding_listeners_are_hooked_when_their_class_loads_one_event_per_fix(runs) -> None:
    _, run = runs
    fixes = _events(run, "android.location.LocationListener.onLocationChanged")
    assert [(event["value"], event["payload"]["override_class"]) for event in fixes] == [
        ("Location[fused 31.23,121.47]", "com.example.late.Tracker"),
        # ChildTracker calls super: its override and Tracker's run, one event.
        ("Location[fused 39.9,116.4]", "com.example.late.ChildTracker"),
        ("Location[fused 22.5,114.1]", "com.sdk.late.SdkLocationListener"),
        ("Location[fused 22.5,114.1]", "com.sdk.late.SdkLocationListener"),
    ]
    # The stack names the class that received the fix, so attribution finds the SDK.
    assert fixes[2]["stack"][0].startswith("com.sdk.late.SdkLocationListener.onLocationChanged(")
    assert fixes[2]["category"] == "location"


def test_a_catalogue_class_loaded_by_a_fresh_loader_mid_run_is_hooked_in_each_loader(runs) -> None:
    _, run = runs
    reads = _events(run, "com.android.id.impl.IdProviderImpl.getOAID")
    assert [event["value"] for event in reads] == ["oaid-5f2a9c", "oaid-5f2a9c"]
    late = [event for event in run.sink.events if event["kind"] == "hook_status" and event["payload"].get("scope") == "java-late"]
    hooked_classes = [(event["payload"]["class"], event["payload"]["loader"]) for event in late]
    assert hooked_classes.count(("com.android.id.impl.IdProviderImpl", "java.net.URLClassLoader")) == 2
    for event in late:
        if event["payload"]["class"] == "com.android.id.impl.IdProviderImpl":
            failed = {job["method"] for job in event["payload"]["failed_jobs"]}
            # This helper has only getOAID: the catalogue's other methods of it are named as not found.
            assert "getVAID" in failed and "getOAID" not in failed and event["payload"]["installed"] >= 1
        else:
            assert event["payload"]["failed"] == 0 and event["payload"]["overrides"] == ["android.location.LocationListener.onLocationChanged"]


def test_the_class_watch_reports_its_backend_and_no_errors(runs) -> None:
    _, run = runs
    watch = [event for event in run.sink.events if event["category"] == "class-watch"]
    assert watch and watch[0]["payload"]["backend"].startswith("hotspot:")
    stats = next(iter(run.summary.values()))["stats"]
    assert stats["class_watch_errors"] == 0, stats["class_watch_last_error"]
    assert stats["record_errors"] == 0, stats["last_record_error"]
