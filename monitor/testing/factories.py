"""Event and run-directory factories with fixed timestamps, for tests and benchmarks.

Like mitmproxy.test.tflow: keyword-only arguments with sensible defaults, so a test states only what it
is about (`pi_read(ts=at(3))`). Every factory returns a plain dict shaped like `monitor.events.Event`;
`write_run` writes them through the real `RunWriter`, so tests read real run directories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Literal

from monitor.store.writer import RunWriter

# 2026-01-01T00:00:00Z: a fixed clock, far from 0 so no code can confuse "no time" with "time zero".
T0 = 1_767_225_600_000_000_000
APP = "com.example.demo"
APP_DOMAINS = ["example.com"]
APP_FRAME = "com.example.demo.MainActivity.onCreate(MainActivity.java:42)"
UMENG_FRAME = "com.umeng.commonsdk.UMConfigure.preInit(UMConfigure.java:17)"
PID = 4242


def at(seconds: float) -> int:
    """Host ns `seconds` after T0."""
    return T0 + round(seconds * 1_000_000_000)


def _event(source: str, kind: str, ts: int, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"source": source, "kind": kind, "ts": ts}
    event.update({name: value for name, value in fields.items() if value is not None})
    return event


def pi_read(*, ts: int = T0, api: str = "android.telephony.TelephonyManager.getDeviceId", category: str = "device_id",
            value: str | None = "867530900000001", stack: list[str] | None = None, process: str = APP, pid: int = PID,
            thread: str = "main", args: list[str] | None = None, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """A hooked API returned PI. The default stack is the app's own MainActivity."""
    return _event("hook", "pi_read", ts, api=api, category=category, value=value,
                  stack=list(stack) if stack is not None else [APP_FRAME], process=process, pid=pid,
                  thread=thread, args=args, payload=payload)


def click(*, ts: int = T0, text: str | None, process: str = APP, pid: int = PID,
          view_class: str = "android.widget.Button") -> dict[str, Any]:
    """View.performClick on a view showing `text` (as the agent records it: payload.this_fields.getText)."""
    payload: dict[str, Any] = {"this_class": view_class}
    if text is not None:
        payload["this_fields"] = {"getText": text}
    return _event("hook", "click", ts, category="ui", api="android.view.View.performClick", value="true",
                  process=process, pid=pid, thread="main", payload=payload)


def lifecycle(*, ts: int = T0, state: Literal["foreground", "background"], process: str = APP, pid: int = PID,
              activity: str = "com.example.demo.MainActivity") -> dict[str, Any]:
    """Activity.onResume (foreground) or onPause (background)."""
    api = "android.app.Activity.onResume" if state == "foreground" else "android.app.Activity.onPause"
    return _event("hook", "lifecycle", ts, category=state, api=api, process=process, pid=pid, thread="main",
                  payload={"this_class": activity})


def dialog(*, ts: int = T0, shown: bool = True, process: str = APP, pid: int = PID,
           dialog_class: str = "com.example.demo.PrivacyDialog") -> dict[str, Any]:
    api = "android.app.Dialog.show" if shown else "android.app.Dialog.dismiss"
    return _event("hook", "dialog", ts, category="dialog_shown" if shown else "dialog_dismissed", api=api,
                  process=process, pid=pid, thread="main", payload={"this_class": dialog_class})


def mark(*, ts: int = T0, step: str, category: Literal["consent", "step"] = "step", decision: str | None = None,
         screenshot: str | None = None) -> dict[str, Any]:
    """A scenario mark: `step` is the step name (the event's api)."""
    payload: dict[str, Any] = {}
    if decision is not None:
        payload["decision"] = decision
    if screenshot is not None:
        payload["screenshot"] = screenshot
    return _event("scenario", "mark", ts, category=category, api=step, payload=payload or None)


def prefs(*, ts: int = T0, key: str = "privacy_agreed", value: str = "true", process: str = APP,
          pid: int = PID) -> dict[str, Any]:
    """A consent-like flag written to SharedPreferences."""
    return _event("hook", "prefs", ts, category="consent_flag", api="android.app.SharedPreferencesImpl$EditorImpl.putBoolean",
                  value=value, args=[key, value], process=process, pid=pid, thread="main",
                  payload={"key": key, "value": value})


def permission(*, ts: int = T0, permission: str = "android.permission.READ_PHONE_STATE",
               result: Literal["granted", "denied"] | None = None, check: bool = False, process: str = APP,
               pid: int = PID) -> dict[str, Any]:
    """A runtime permission request (result None), its result, or (check=True) a checkSelfPermission."""
    payload: dict[str, Any] = {"permission": permission}
    if result is not None:
        payload["result"] = result
    api = "android.app.Activity.requestPermissions" if result is None else "android.app.Activity.onRequestPermissionsResult"
    if check:
        payload["check"] = "true"
        api = "android.app.ContextImpl.checkPermission"
    return _event("hook", "permission", ts, category="permission", api=api, process=process, pid=pid,
                  thread="main", payload=payload)


def app_start(*, ts: int = T0, target_package: str | None = "com.other.app", component: str | None = None,
              api: str = "android.content.ContextWrapper.startService", stack: list[str] | None = None,
              process: str = APP, pid: int = PID) -> dict[str, Any]:
    """Start of a component (another package's when target_package differs from the app), or an alarm/job
    (`api` AlarmManager.set / JobScheduler.schedule with target_package the app's own)."""
    payload: dict[str, Any] = {}
    if target_package is not None:
        payload["target_package"] = target_package
    if component is not None:
        payload["component"] = component
    return _event("hook", "app_start", ts, category="app_start", api=api, process=process, pid=pid, thread="main",
                  stack=list(stack) if stack is not None else [APP_FRAME], payload=payload or None)


def connect(*, ts: int = T0, host: str | None = "ulogs.umeng.com", port: int | None = 443, url: str | None = None,
            api: str = "java.net.Socket.connect", stack: list[str] | None = None, process: str = APP,
            pid: int = PID) -> dict[str, Any]:
    """A connection opened: a socket connect (host and port, as Socket.connect records them) or, with `url`,
    a URL connect (URL.openConnection, OkHttp). The default stack is Umeng's."""
    payload: dict[str, Any] = {"url": url} if url is not None else {"host": host, "port": None if port is None else str(port)}
    return _event("hook", "connect", ts, category="network_request", api=api, process=process, pid=pid, thread="main",
                  stack=list(stack) if stack is not None else [UMENG_FRAME], payload=payload)


def notice_text(*, ts: int = T0, text: str = "请阅读《隐私政策》，我们将收集您的个人信息", links: Iterable[str] = (),
                stack: list[str] | None = None, process: str = APP, pid: int = PID) -> dict[str, Any]:
    """Text the app showed that reads like a privacy notice (TextView.setText), with its links."""
    return _event("hook", "text", ts, category="notice_text", api="android.widget.TextView.setText", process=process,
                  pid=pid, thread="main", value=text, stack=list(stack) if stack is not None else [APP_FRAME],
                  payload={"links": list(links)})


def flow_event(*, ts: int = T0, flow_id: str = "flow-1", host: str = "example.com", path: str = "/api",
               method: str = "POST", scheme: str = "https", port: int = 443, status: int | None = 200,
               error: str | None = None) -> dict[str, Any]:
    """The proxy's record of one HTTP exchange in events.jsonl (ts = request time)."""
    url = f"{scheme}://{host}{'' if port in (80, 443) else f':{port}'}{path}"
    return _event("net", "flow", ts, flow_id=flow_id,
                  payload={"method": method, "url": url, "host": host, "port": port, "scheme": scheme,
                           "status": status, "error": error, "http_version": "HTTP/1.1"})


def run_info(*, package: str = APP, domains: Iterable[str] = APP_DOMAINS, started_ns: int = T0,
             **extra: Any) -> dict[str, Any]:
    return {"target": "demo", "app": {"package": package, "domains": list(domains)}, "started_ns": started_ns,
            "clock": {"offset_ns": 0}, **extra}


def write_run(root: Path, events: Iterable[dict[str, Any]], *, flows: Iterable[dict[str, Any]] | None = None,
              info: dict[str, Any] | None = None) -> Path:
    """Write a real, sealed run directory at `root` (created) and return it."""
    root = Path(root)
    writer = RunWriter(root, run_info=info if info is not None else run_info())
    with writer:
        for event in events:
            writer.append(event)
        for flow in flows or ():
            writer.append_flow(flow)
    return root


def match_row(*, flow_id: str = "flow-1", event_seq: int | None = None, category: str = "device_id",
              value: str = "867530900000001", field: str = "query:imei", encoding: str = "plain",
              offset: int = 0, confidence: str = "exact", detector: str | None = None,
              part_ts: int | None = None) -> dict[str, Any]:
    """One row of monitor.analysis.matching's output: a read value found in a flow (`part_ts`: when the part
    was sent, for a WebSocket message)."""
    return {"flow_id": flow_id, "event_seq": event_seq, "category": category, "value": value, "field": field,
            "encoding": encoding, "offset": offset, "confidence": confidence, "detector": detector, "part_ts": part_ts}


def judge(root: Path, events: Iterable[dict[str, Any]], *, matches: Iterable[dict[str, Any]] | None = None,
          info: dict[str, Any] | None = None, **options: Any):
    """Write `events` as a real run at `root`, read it back and analyse it. `matches` (match_row dicts) stand
    in for network matching; without them the run has no flows.mitm and matching finds nothing."""
    import pandas as pd

    from monitor.analysis import analyze
    from monitor.store.reader import read_run

    write_run(root, events, info=info)
    frame = None
    if matches is not None:
        from monitor.analysis.matching import COLUMNS

        frame = pd.DataFrame(list(matches), columns=COLUMNS)
        frame["event_seq"] = frame["event_seq"].astype("Int64")
        frame["part_ts"] = frame["part_ts"].astype("Int64")
    return analyze(read_run(root), matches=frame, **options)
