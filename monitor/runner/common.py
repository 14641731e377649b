"""What every kind of run shares: the run.json header that says which tool and knowledge recorded it,
and the sealing of the run directory with the end-to-end event count."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import monitor
from monitor.agent.build import bundle_info
from monitor.capture.proxy import CaptureProxy
from monitor.data.models import Catalogue
from monitor.errors import MonitorError
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


def run_header(catalogue: Catalogue, catalogue_path: Path) -> dict[str, Any]:
    """run.json fields naming the tool, the agent bundle and the exact catalogue file of a run."""
    return {
        "tool": {"name": "consentmon", "version": monitor.__version__},
        "agent": bundle_info(),
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
             exit_reason: str, interrupted: bool, **run_updates: Any) -> RunResult:
    """Close the run directory with what the agents said they sent against what reached the disk."""
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
    writer.close(exit_reason=exit_reason, interrupted=interrupted,
                 agent_processes={str(process): item for process, item in agent_summary.items()},
                 events_sent_by_agent=sent, hook_events_recorded=hook_events,
                 flows_recorded=proxy.addon.flows_recorded, tls_failures=proxy.addon.tls_failures, **run_updates)
    return RunResult(out=writer.root, pid=pid, exit_reason=exit_reason, events=writer.seq, agent=agent_summary,
                     flows=proxy.addon.flows_recorded, tls_failures=proxy.addon.tls_failures,
                     lost_events=max(0, sent - hook_events), interrupted=interrupted,
                     capture_failure=run_updates.get("capture_failure"))
