"""What every kind of run shares: the run.json header that says which tool and knowledge recorded it,
and the sealing of the run directory with the end-to-end event count."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import monitor
from monitor.agent.build import bundle_info
from monitor.capture.proxy import CaptureProxy
from monitor.data.models import Catalogue
from monitor.errors import CaptureError, MonitorError
from monitor.policy.capture import FETCH_HEADER, collect_policy_documents, unopened_links
from monitor.store.writer import RunWriter


@dataclass
class RunResult:
    out: Path
    pid: int
    exit_reason: str
    events: int
    agent: dict[int, dict[str, Any]]
    flows: int
    tls_failures: int
    lost_events: int
    interrupted: bool = False
    capture_failure: str | None = None
    partial: bool = False
    gaps: list[dict[str, Any]] = field(default_factory=list)


# The one event kind for a stretch of a run that is not covered (the target died, the capture or the disk
# failed, the run was stopped early): written when it is noticed, listed again in run.json `gaps`.
KIND_GAP = "gap"


def record_gap(writer: RunWriter, gaps: list[dict[str, Any]], what: str, reason: str, **details: Any) -> dict[str, Any]:
    """Say in the run where its record stops being whole: an event now (after the last event written before
    it, `after_seq`) and an entry for run.json. A disk too full for the event still leaves the run.json entry."""
    now = time.time_ns()
    gap = {"what": what, "reason": reason, "noticed_ns": now, "after_seq": writer.seq - 1, **details}
    gaps.append(gap)
    try:
        writer.append({"source": "agent", "kind": KIND_GAP, "ts": now, "device_ts": now, "category": what, "payload": dict(gap)})
    except CaptureError as exc:
        gap["event_not_written"] = exc.message
    return gap


class RunStopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP during a run: handled like Ctrl-C, so the run is stopped cleanly and sealed."""


def _stop_run(signum: int, _frame: object) -> None:
    raise RunStopped(f"signal {signum}")


@contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """While a run records, SIGTERM and SIGHUP stop it the way Ctrl-C does (a `kill`, a closed terminal, a CI
    timeout), instead of ending the process with the run unsealed and the target left running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _stop_run) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_held() -> Iterator[None]:
    """While the run is sealed, a second Ctrl-C or SIGTERM would leave it half written: both wait until the end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    hold: Callable[[int, object], None] = lambda signum, _frame: arrived.append(signum)
    previous = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_header(catalogue: Catalogue, catalogue_path: Path, *, variant: str = "phone") -> dict[str, Any]:
    """run.json fields naming the tool, the agent bundle (its variant) and the exact catalogue file of a run."""
    return {
        "tool": {"name": "consentmon", "version": monitor.__version__},
        "agent": bundle_info(variant),
        "catalogue": {"version": catalogue.version, "entries": len(catalogue.hooks), "path": str(catalogue_path),
                      "sha256": hashlib.sha256(Path(catalogue_path).read_bytes()).hexdigest()},
    }


def fetch_unopened_policy_links(writer: RunWriter, proxy: CaptureProxy) -> list[dict[str, Any]]:
    """`--fetch-policy`: the links the notice showed and nothing opened, fetched through the still-running
    capture proxy (recorded like the app's traffic, marked as consentmon's); what happened is in run.json."""
    outcomes: list[dict[str, Any]] = []
    for url in unopened_links(writer.root):
        try:
            status, content_type = proxy.fetch(url, marker=(FETCH_HEADER, "policy"))
            outcomes.append({"url": url, "status": status, "content_type": content_type})
        except MonitorError as exc:
            outcomes.append({"url": url, "error": str(exc)})
    writer.write_run_info(policy_fetch=outcomes)
    return outcomes


def seal_run(writer: RunWriter, proxy: CaptureProxy, agent_summary: dict[int, dict[str, Any]], *, pid: int,
             exit_reason: str, interrupted: bool, gaps: list[dict[str, Any]] | None = None, **run_updates: Any) -> RunResult:
    """Close the run directory with what the agents said they sent against what reached the disk. A run
    stopped early, with a gap, or whose capture failed is sealed as `partial`: what it holds is evidence,
    but not of the whole run."""
    gaps = list(gaps or [])
    sent = sum(int((item.get("stats") or {}).get("sent", 0)) for item in agent_summary.values())
    hook_events = sum(count for key, count in writer.counts.items() if key.startswith("hook:"))
    # A failure while the stopped proxy wrote out its flows (flows.spool → flows.mitm, flows.jsonl) is said
    # here, in the run and to the user: the spool stays, and `consentmon recover` retries it.
    failure = proxy.addon.failure
    if failure is not None:
        run_updates["capture_failure"] = str(failure)
    # The privacy policy the run showed or loaded is evidence too: stored under policy/ before the seal.
    try:
        collected = collect_policy_documents(writer.root)
        run_updates["policy"] = {"documents_stored": collected.stored, "links_shown": collected.links}
    except MonitorError as exc:
        run_updates["policy"] = {"error": str(exc)}
    partial = bool(interrupted or gaps or run_updates.get("capture_failure") or exit_reason == "error")
    writer.close(exit_reason=exit_reason, interrupted=interrupted, partial=partial, gaps=gaps,
                 agent_processes={str(process): item for process, item in agent_summary.items()},
                 events_sent_by_agent=sent, hook_events_recorded=hook_events,
                 flows_recorded=proxy.addon.flows_recorded, tls_failures=proxy.addon.tls_failures, **run_updates)
    return RunResult(out=writer.root, pid=pid, exit_reason=exit_reason, events=writer.seq, agent=agent_summary,
                     flows=proxy.addon.flows_recorded, tls_failures=proxy.addon.tls_failures,
                     lost_events=max(0, sent - hook_events), interrupted=interrupted,
                     capture_failure=run_updates.get("capture_failure"), partial=partial, gaps=gaps)
