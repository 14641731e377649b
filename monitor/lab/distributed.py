"""Beyond one machine: the batch's jobs as Celery tasks on a Redis broker, run by `consentmon worker`s.

- Routing: host jobs go to the queue `lab.host`, device jobs to `lab.device`; a worker consumes the queues
  of the slots it has. A device job that none of a worker's devices can take (Android range, ABI, root,
  serial) is handed back to the queue for another worker.
- Who serves what: each consumer announces its worker and slots in Redis, renewed while it lives (a killed
  one is forgotten in seconds). A job that no live worker has a slot for, for `unserved_after()` seconds
  (CONSENTMON_LAB_UNSERVED_AFTER, default 15), gets a failed outcome saying what it needs, which workers are
  alive and what they serve, and the fix — written by the submitter as it follows the batch, or by a worker
  handing the job back, whichever sees it first (nobody may consume the job's queue at all).
- Late acknowledgement (`acks_late`, `reject_on_worker_lost`): a message is acknowledged when its job ends,
  so a worker killed mid-job leaves it unacknowledged and Redis delivers it again once the visibility
  timeout has passed (set it above the longest job; the tests use a few seconds).
- Exactly one result per job: the task id is the job id; before running, a worker looks for the job's
  outcome in the results root (done: acknowledge and skip) and takes a lease on the job in Redis, renewed
  while it runs. A second delivery of a job whose lease is held waits (hand-back) instead of running it
  again; the lease of a killed worker expires in seconds, and the job then runs elsewhere.
- A job is tried at most twice (counted in Redis); its failure is written to the results root as its
  outcome, which the submitter (`consentmon batch --broker`) follows. A job's keys in Redis (lease, tries)
  are per results root, so the same plan run into another root (or as another round) starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import MonitorError
from monitor.lab.execute import JobFailed, LabSettings, run_in_child
from monitor.lab.local import needs_text
from monitor.lab.plan import Job
from monitor.lab.results import ResultsRoot
from monitor.lab.slots import Slot, can_take
from monitor.lab.state import MAX_ATTEMPTS

TASK_NAME = "consentmon.lab.run_job"
HOST_QUEUE = "lab.host"
DEVICE_QUEUE = "lab.device"
LEASE_TTL = 6            # seconds a job's lease lives without renewal (a killed worker's expires this soon)
LEASE_RENEW = 1.5
HAND_BACK_PAUSE = 0.5    # before a job this worker cannot take now goes back to the queue
UNSERVED_AFTER = 15.0    # seconds a job may have no live worker that can take it, before it is reported
DEFAULT_VISIBILITY = 3600
KEY_PREFIX = "consentmon:lab:"
WORKER_KEY = f"{KEY_PREFIX}worker:"   # + consumer: the worker and slots one live consumer serves


def unserved_after() -> float:
    return float(os.environ.get("CONSENTMON_LAB_UNSERVED_AFTER", UNSERVED_AFTER))


def job_key(results_url: str, kind: str, job_id: str) -> str:
    """A job's key in Redis (lease, attempts, unserved), per results root: the same job id in another root
    (another week, another round) is another job."""
    root = hashlib.sha1(results_url.encode()).hexdigest()[:12]
    return f"{KEY_PREFIX}{root}:{kind}:{job_id}"


class BrokerUnreachable(MonitorError):
    """The broker cannot be reached."""

    exit_code = 3   # as `consentmon batch` says it (monitor/cli/lab.py)


def make_app(broker: str, *, visibility_timeout: float | None = None):  # type: ignore[no-untyped-def]
    from celery import Celery

    visibility = visibility_timeout or float(os.environ.get("CONSENTMON_LAB_VISIBILITY_TIMEOUT", DEFAULT_VISIBILITY))
    app = Celery("consentmon-lab", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1, task_ignore_result=True,
        task_serializer="json", accept_content=["json"], task_default_queue=HOST_QUEUE,
        broker_connection_retry_on_startup=True, broker_connection_max_retries=3, worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_transport_options={"visibility_timeout": visibility,
                                  # sweep unacknowledged messages often, so a lost job comes back soon after it is due
                                  "unacked_restore_interval": max(1, min(10, int(visibility / 4))), "unacked_restore_throttle": 1,
                                  "socket_connect_timeout": 5},
    )
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)(_run_job_task)
    return app


def check_broker(app) -> None:  # type: ignore[no-untyped-def]
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as exc:  # noqa: BLE001 - kombu raises many kinds; all mean the same thing here
        raise BrokerUnreachable(f"broker {app.conf.broker_url} is unreachable: {exc}",
                                hint="start Redis there (redis-server) or give the right --broker redis://HOST:PORT/0") from exc


def submit(broker: str, results_url: str, jobs: list[Job]) -> None:
    import redis

    app = make_app(broker)
    check_broker(app)
    results = ResultsRoot(results_url)
    client = redis.Redis.from_url(broker, socket_timeout=10)
    try:
        with app.producer_or_acquire() as producer:
            for job in jobs:
                if results.clear_failed(job.id):   # sent again after failing (--retry-failed): fresh tries
                    client.delete(job_key(results_url, "attempts", job.id))
                client.delete(job_key(results_url, "unserved", job.id))
                app.send_task(TASK_NAME, args=[job.as_dict(), results_url], task_id=job.id,
                              queue=HOST_QUEUE if job.kind == "host" else DEVICE_QUEUE, producer=producer)
    except MonitorError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise BrokerUnreachable(f"broker {broker}: cannot submit: {exc}") from exc


# ---- the worker side ---------------------------------------------------------------------------------


@dataclass
class WorkerContext:
    """The slot(s) one Celery consumer of `consentmon worker` serves, and its Redis client for leases and counts."""

    name: str
    broker: str
    slots: list[Slot]
    settings: LabSettings = field(default_factory=LabSettings)
    free: "queue.Queue[Slot]" = field(default_factory=queue.Queue)
    retired: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        import redis

        for slot in self.slots:
            self.free.put(slot)
        self.redis = redis.Redis.from_url(self.broker, socket_timeout=10)
        self._lock = threading.Lock()

    def ever_takes(self, job: Job) -> bool:
        return any(can_take(slot, job) for slot in self.slots if slot.name not in self.retired)

    def acquire(self, job: Job) -> Slot | None:
        """A free slot of this worker that can take the job, or None."""
        held: list[Slot] = []
        found = None
        while True:
            try:
                slot = self.free.get_nowait()
            except queue.Empty:
                break
            if found is None and slot.name not in self.retired and can_take(slot, job):
                found = slot
            else:
                held.append(slot)
        for slot in held:
            self.free.put(slot)
        return found

    def release(self, slot: Slot) -> None:
        if slot.name not in self.retired:
            self.free.put(slot)

    def retire(self, slot: Slot) -> None:
        with self._lock:
            self.retired.add(slot.name)

    # ---- the registry of live workers ----

    def announce(self, consumer: str) -> Callable[[], None]:
        """Say in Redis which slots this consumer serves, again every LEASE_RENEW seconds until the returned
        function withdraws it; a killed consumer's entry lapses after LEASE_TTL."""
        key = f"{WORKER_KEY}{consumer}"
        stop = threading.Event()

        def entry() -> str:
            with self._lock:
                retired = set(self.retired)
            return json.dumps({"worker": self.name, "slots": [slot.as_dict() for slot in self.slots if slot.name not in retired],
                               "retired": sorted(retired)})

        def beat() -> None:
            while not stop.wait(LEASE_RENEW):
                try:
                    self.redis.set(key, entry(), ex=LEASE_TTL)
                except Exception:  # noqa: BLE001 - a broker hiccup: the next beat tries again
                    pass

        def withdraw() -> None:
            stop.set()
            try:
                self.redis.delete(key)
            except Exception:  # noqa: BLE001 - it lapses on its own
                pass

        self.redis.set(key, entry(), ex=LEASE_TTL)   # before the first job can arrive
        threading.Thread(target=beat, daemon=True, name="consentmon-lab-announce").start()
        return withdraw


_CONTEXT: WorkerContext | None = None


@dataclass
class LiveWorker:
    """A worker as the registry has it: its name, the slots its live consumers serve, those it retired."""

    name: str
    slots: list[Slot] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)

    def describe(self) -> str:
        serves = ", ".join(slot.describe() for slot in self.slots) or "nothing"
        return f"{self.name} serves {serves}" + (f" ({', '.join(self.retired)} retired)" if self.retired else "")


def live_workers(client) -> list[LiveWorker]:  # type: ignore[no-untyped-def]
    """Every worker with a live consumer, by name."""
    keys = sorted(client.scan_iter(match=f"{WORKER_KEY}*", count=1000))
    workers: dict[str, LiveWorker] = {}
    for value in client.mget(keys) if keys else []:
        if value is None:   # lapsed between the scan and the read
            continue
        entry = json.loads(value)
        worker = workers.setdefault(entry["worker"], LiveWorker(entry["worker"]))
        worker.slots += [Slot.from_dict(slot) for slot in entry["slots"]]
        worker.retired += entry.get("retired") or []
    return [workers[name] for name in sorted(workers)]


def _unserved_hint(job: Job, broker: str, results_url: str) -> str:
    start = f"consentmon worker --broker {broker} --results {results_url}"
    if job.kind == "host":
        fix = f"start a worker with host slots: {start} --host-slots 1"
    elif job.needs.serial is not None:
        fix = (f"attach {job.needs.serial} to a lab host (adb devices there lists it) and start on that host: "
               f"{start} --serial {job.needs.serial}; or change the job's device: in the plan")
    else:
        fix = (f"connect {needs_text(job)} to a lab host and start on that host: {start} --serial SERIAL; "
               "or change the job's device: in the plan")
    return f"{fix}; then run the batch again with --retry-failed"


def report_if_unserved(client, broker: str, results: ResultsRoot, job: Job, workers: list[LiveWorker],  # type: ignore[no-untyped-def]
                       after: float) -> bool:
    """Report the job (its failed outcome, with who is alive and the fix) when no live worker has had a slot
    that can take it for `after` seconds. True when it is reported (now or before)."""
    key = job_key(results.url, "unserved", job.id)
    if any(can_take(slot, job) for worker in workers for slot in worker.slots):
        client.delete(key)
        return False
    client.set(key, time.time(), nx=True, ex=7 * 86400)
    since = float(client.get(key) or time.time())
    if time.time() - since < after or client.exists(job_key(results.url, "lease", job.id)):
        return False
    if results.outcome(job.id) is None:
        alive = "; ".join(worker.describe() for worker in workers) or "none"
        results.write_outcome(job.id, _failed(job, None, None, 0, f"no live worker can take it: it needs {needs_text(job)}; "
                                              f"workers alive: {alive}", _unserved_hint(job, broker, results.url)))
    return True


class UnservedWatch:
    """The submitter's side: every job it still waits for is checked against the registry of live workers."""

    def __init__(self, broker: str, results: ResultsRoot, after: float) -> None:
        import redis

        self.broker = broker
        self.results = results
        self.after = after
        self.redis = redis.Redis.from_url(broker, socket_timeout=10)

    def check(self, jobs: list[Job]) -> None:
        import redis

        try:
            workers = live_workers(self.redis)
            for job in jobs:
                report_if_unserved(self.redis, self.broker, self.results, job, workers, self.after)
        except redis.RedisError:   # the broker is away for a moment: the next check tries again
            pass


class Lease:
    """A job's lease in Redis, renewed by a thread while the job runs."""

    def __init__(self, context: WorkerContext, key: str) -> None:
        self.key = key
        self.redis = context.redis
        self.owner = f"{context.name}:{os.getpid()}:{threading.get_ident()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> bool:
        if not self.redis.set(self.key, self.owner, nx=True, ex=LEASE_TTL):
            return False
        self._thread = threading.Thread(target=self._renew, daemon=True, name=f"lease-{self.key}")
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_RENEW):
            try:
                if self.redis.get(self.key) == self.owner.encode():
                    self.redis.expire(self.key, LEASE_TTL)
            except Exception:  # noqa: BLE001 - a broker hiccup: the next renewal tries again
                pass

    def release(self) -> None:
        self._stop.set()
        try:
            if self.redis.get(self.key) == self.owner.encode():
                self.redis.delete(self.key)
        except Exception:  # noqa: BLE001 - the lease expires on its own
            pass


def _hand_back(job: Job, reason: str) -> None:
    from celery.exceptions import Reject

    time.sleep(HAND_BACK_PAUSE)
    raise Reject(reason, requeue=True)


def _run_job_task(task, job_data: dict[str, Any], results_url: str) -> str:  # type: ignore[no-untyped-def]
    context = _CONTEXT
    if context is None:
        raise RuntimeError("the consentmon lab task runs only inside `consentmon worker`")
    job = Job.from_dict(job_data)
    results = ResultsRoot(results_url)
    if results.outcome(job.id) is not None:
        return "already recorded"
    if not context.ever_takes(job):
        if report_if_unserved(context.redis, context.broker, results, job, live_workers(context.redis), unserved_after()):
            return "reported: no live worker can take it"
        _hand_back(job, "no slot of this worker can take it")
    slot = context.acquire(job)
    if slot is None:
        _hand_back(job, "every slot of this worker that can take it is busy")
    assert slot is not None
    lease = Lease(context, job_key(results_url, "lease", job.id))
    if not lease.take():
        context.release(slot)
        _hand_back(job, "another worker is running it")
    retry_reason = None
    try:
        if results.outcome(job.id) is not None:   # finished elsewhere between the first check and the lease
            return "already recorded"
        attempt = int(context.redis.incr(job_key(results_url, "attempts", job.id)))
        try:
            run_in_child(job, slot, results_url, context.settings, worker=context.name, attempt=attempt)
        except JobFailed as failure:
            if failure.device_lost:
                context.retire(slot)
            if failure.final or attempt >= MAX_ATTEMPTS:
                results.write_outcome(job.id, _failed(job, slot, context.name, attempt, failure.message, failure.hint))
                return "failed"
            retry_reason = f"attempt {attempt} failed: {failure.message}"
    finally:
        lease.release()
        context.release(slot)
    if retry_reason is not None:
        _hand_back(job, retry_reason)
    return "done"


def _failed(job: Job, slot: Slot | None, worker: str | None, attempt: int, error: str, hint: str | None) -> dict[str, Any]:
    return {"job_id": job.id, "name": job.name, "kind": job.kind, "status": "failed", "slot": slot.name if slot else None,
            "worker": worker, "attempt": attempt, "error": error, "hint": hint, "finished": time.time()}


def run_worker(broker: str, slots: list[Slot], *, name: str,
               settings: LabSettings | None = None, loglevel: str = "WARNING") -> None:
    """Consume jobs until stopped (SIGTERM/Ctrl-C: the running jobs finish first; SIGKILL: they are delivered again).

    One Celery consumer per slot (pool "solo": the job runs on the consumer's own loop, so the next message is
    fetched the moment a job is acknowledged; a thread pool's loop would notice only at its next poll, up to a
    second later). With several slots each consumer is a child process that ends with this one."""
    if not slots:
        raise MonitorError("this worker has no slot: no device is connected and --host-slots is 0",
                           hint="connect a device (adb devices) or give --host-slots N")
    settings = settings or LabSettings()
    check_broker(make_app(broker))
    if len(slots) == 1:
        serve_slot(broker, slots[0], name=name, settings=settings, loglevel=loglevel)
        return
    import signal
    import subprocess
    import sys

    children = []
    for index, slot in enumerate(slots, 1):
        request = {"broker": broker, "slot": slot.as_dict(), "name": name, "index": index,
                   "loglevel": loglevel, "frida_server": str(settings.frida_server) if settings.frida_server else None}
        child = subprocess.Popen([sys.executable, "-m", "monitor.lab.distributed"], stdin=subprocess.PIPE)
        child.stdin.write(json.dumps(request).encode())  # type: ignore[union-attr]
        child.stdin.close()  # type: ignore[union-attr]
        children.append(child)

    def stop(signum: int, frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.wait()


def serve_slot(broker: str, slot: Slot, *, name: str, settings: LabSettings, loglevel: str = "WARNING",
               index: int | None = None) -> None:
    """One Celery consumer for one slot, on the queue of its kind, announced in the registry while it lives."""
    global _CONTEXT
    app = make_app(broker)
    _CONTEXT = WorkerContext(name=name, broker=broker, slots=[slot], settings=settings)
    queue_name = HOST_QUEUE if slot.kind == "host" else DEVICE_QUEUE
    hostname = f"{name}.{index}@%h" if index is not None else f"{name}@%h"
    withdraw = _CONTEXT.announce(f"{name}:{index or 0}:{os.getpid()}")
    try:
        app.worker_main(["worker", "--pool", "solo", "--queues", queue_name, "--hostname", hostname,
                         "--without-gossip", "--without-mingle", "--loglevel", loglevel])
    finally:
        withdraw()


def _slot_main() -> None:
    import sys
    from pathlib import Path

    from monitor.lab.execute import _watch_parent

    _watch_parent()   # the `consentmon worker` that started this consumer is gone: so is the consumer
    request = json.loads(sys.stdin.read())
    slot = Slot.from_dict(request["slot"])
    settings = LabSettings(frida_server=Path(request["frida_server"]) if request.get("frida_server") else None)
    serve_slot(request["broker"], slot, name=request["name"], settings=settings, loglevel=request["loglevel"],
               index=request["index"])


if __name__ == "__main__":
    _slot_main()
