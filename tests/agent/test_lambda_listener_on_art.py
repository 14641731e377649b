"""A lambda listener on Android's own runtime (host ART 10): hooked as a phone's is.

Since Android 11, LocationListener has one abstract method, so apps write `location -> …` or `this::onFix` where
they wrote a class. D8 turns each into a class of the app's dex (`App$$ExternalSyntheticLambdaN`, implementing the
interface); host ART gets the same classes from the rig's desugarer (tests/support/art/kit/tools/Desugar.java),
and the agent's class watch sees them as the app's class loader defines them: the override of
LocationListener.onLocationChanged is hooked in each, and each fix delivered to a lambda is recorded, the app's
output unchanged. (A LambdaMetafactory made of java.lang.reflect.Proxy would have given no such class: proxy classes
are made by ClassLinker::CreateProxyClass, which the class watch does not see.)
"""

from __future__ import annotations

import pytest

from monitor.agent.session import AgentOptions
from support.art import fixtures

from test_late_classes import FRAMEWORK

pytestmark = [pytest.mark.frida, pytest.mark.timeout(900)]
art10 = fixtures.art10   # the host ART runtime (built on first use)

APP = """
package com.example.lambda;
import android.location.Location;
import android.location.LocationManager;
public class App {
    static void onFix(Location location) {
        System.out.println("reference fix " + location.getLongitude());
    }
    public static void main(String[] args) {
        LocationManager manager = new LocationManager();
        String label = "lambda fix ";
        manager.deliver(location -> System.out.println(label + location.getLatitude()), new Location(31.23, 121.47));
        manager.deliver(App::onFix, new Location(39.9, 116.4));
    }
}
"""


@pytest.fixture(scope="module")
def runs(art10):
    from support.art.agent import run_on_art
    from support.art.dex import dex_jar

    framework = dex_jar(art10, FRAMEWORK, name="callbacks-framework")
    app = dex_jar(art10, {"com/example/lambda/App.java": APP}, name="lambda-listener-app", classpath=[framework.classes])
    # Without the agent, then under it.
    return [run_on_art(art10, "com.example.lambda.App", classpath=[app.dex], boot=[framework.dex], attach=options is not None,
                       options=options) for options in (None, AgentOptions(importance_poll_ms=0, follow_children=False))]


def test_on_art_lambda_listeners_run_the_same_under_the_agent(runs) -> None:
    plain, hooked = runs
    assert plain.stdout_lines() == hooked.stdout_lines() == ["lambda fix 31.23", "reference fix 116.4"]


def test_on_art_each_lambda_class_is_hooked_as_it_is_defined_and_its_fixes_recorded(runs) -> None:
    _, hooked = runs
    late = [(event["payload"]["class"], event["payload"]["loader"], event["payload"]["overrides"])
            for event in hooked.sink.events if event["kind"] == "hook_status" and event["payload"].get("scope") == "java-late"]
    hooked_classes = [name for name, loader, overrides in late
                      if loader == "dalvik.system.PathClassLoader" and overrides == ["android.location.LocationListener.onLocationChanged"]]
    assert len(hooked_classes) == 2 and all(name.startswith("com.example.lambda.App$$ExternalSyntheticLambda") for name in hooked_classes)
    fixes = [event for event in hooked.sink.hooks() if event["api"] == "android.location.LocationListener.onLocationChanged"]
    assert len(fixes) == 2
    assert sorted(event["payload"]["override_class"] for event in fixes) == sorted(hooked_classes)
    for event in fixes:
        # The stack starts at the override, the lambda's class, whose body is App's own method (D8's shape).
        assert event["stack"][0].startswith("com.example.lambda.App$$ExternalSyntheticLambda")
        assert any(frame.startswith("android.location.LocationManager.deliver(") for frame in event["stack"])
    stats = next(iter(hooked.summary.values()))["stats"]
    assert stats["class_watch_errors"] == 0, stats["class_watch_last_error"]
