"""The app's privacy tests, run under consentmon's pytest plugin (copy to tests/privacy/test_consent.py).

    pytest tests/privacy --consentmon-serial emulator-5554 --consentmon-app com.example.app \
        --consentmon-apk app/build/outputs/apk/debug/app-debug.apk

Each test records one run of the app on the device (pm clear, launch under Frida, traffic through the
capture proxy) driven by a scenario, then asserts on what it found. A failing test keeps its run and
report.html under .consentmon-artifacts/ and prints where.
"""

from __future__ import annotations

from pathlib import Path

# Cases the team accepted for now, each with a reason and an expiry (`consentmon baseline RUN_DIR`).
BASELINE = Path(__file__).with_name("consentmon-baseline.yaml")


def test_first_launch_collects_nothing_before_consent(consent_monitor):
    # The store's complaint: "an SDK collects the device ID before the user agrees to the privacy policy".
    run = consent_monitor.device(scenario="first-launch-idle")
    verdict = run.gate("before-consent,sdk-connects-before-consent", baseline=BASELINE if BASELINE.exists() else None)
    assert not verdict.failing, "\n".join(f"{v.case.sentence['en']} ({v.explain()})" for v in verdict.failing)


def test_nothing_is_collected_or_sent_after_a_refusal(consent_monitor):
    run = consent_monitor.device(scenario="refuse")
    assert not run.findings(rule="after-refusal")


def test_no_sdk_reads_location_before_consent(consent_monitor):
    run = consent_monitor.device(scenario="first-launch-idle")
    early = run.reads.query("category == 'location' and owner == 'sdk' and consent_state != 'accepted'")
    assert early.empty, early[["time", "sdk_id", "api", "frame"]].to_string()
