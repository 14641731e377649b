"""Proxy throughput: plain mitmdump against mitmproxy with our CaptureAddon writing a run, in the same run.

    .venv/bin/python bench/proxy/run.py [--requests 1000] [--large 60] [--rounds 4] [--write]

Everything is on 127.0.0.1 and started here: an upstream HTTP(S) server (its own process), each proxy in
its own process (plain `mitmdump -q`, or `CaptureProxy` + `RunWriter` exactly as `consentmon run` wires
them), and an asyncio client in this process with a few keep-alive connections. Each workload sends a
bounded number of requests through one proxy, then the other, alternating for `--rounds`, so both see the
same machine load; a table row is the mean of its rounds. After each capture round the run directory is
read back: every request must be in events.jsonl, flows.jsonl and flows.mitm, or the bench fails.

Workloads: small HTTP POSTs (a JSON body like an SDK's report), small HTTPS POSTs through CONNECT with
the proxy's CA trusted by the client, and large HTTP POSTs (1 MiB of binary, MB/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

LOOPBACK = "127.0.0.1"
SECTION = "## proxy"
SMALL_BODY = json.dumps({"imei": "867530912345675", "oaid": "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
                         "events": [{"name": "app_start", "ts": 1767225600000 + i} for i in range(8)]}).encode()
LARGE_BODY = bytes(range(256)) * 4096  # 1 MiB, not valid UTF-8: flows.jsonl keeps it as capped base64
REPLY = b'{"ok":true}'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process {process.args} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


# ---- the upstream server (own process) ------------------------------------------------------------

async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                         + str(len(REPLY)).encode() + b"\r\n\r\n" + REPLY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _upstream(port: int, tls_port: int, directory: Path) -> None:
    from monitor.testing.servers import self_signed_cert

    cert, key = self_signed_cert(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    plain = await asyncio.start_server(_serve_connection, LOOPBACK, port)
    secure = await asyncio.start_server(_serve_connection, LOOPBACK, tls_port, ssl=context)
    async with plain, secure:
        await asyncio.gather(plain.serve_forever(), secure.serve_forever())


# ---- our capture proxy (own process) --------------------------------------------------------------

def _capture_proxy(port: int, run_dir: Path, confdir: Path) -> None:
    from monitor.capture.proxy import CaptureProxy
    from monitor.store.writer import RunWriter

    writer = RunWriter(run_dir, run_info={"bench": "proxy"})
    proxy = CaptureProxy(writer, run_dir, confdir=confdir, port=port, ssl_insecure=True)
    # SIGTERM (from the bench) is taken by sigwait, blocked before the proxy thread starts so only this
    # thread receives it: the proxy is then stopped and the run sealed like `consentmon run` does.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    proxy.start()
    signal.sigwait({signal.SIGTERM})
    proxy.stop()
    proxy.check()
    writer.close()
    print(json.dumps({"flows_recorded": proxy.addon.flows_recorded}), flush=True)


# ---- the client (this process) --------------------------------------------------------------------

@dataclass
class Workload:
    name: str
    tls: bool
    body: bytes
    requests: int
    connections: int


async def _read_response(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer through the proxy: {head[:80]!r}")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)


async def _connection(proxy_port: int, upstream_port: int, workload: Workload, count: int, ca: Path) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, proxy_port)
    if workload.tls:
        writer.write(f"CONNECT {LOOPBACK}:{upstream_port} HTTP/1.1\r\nhost: {LOOPBACK}:{upstream_port}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200" not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"CONNECT refused: {head[:80]!r}")
        context = ssl.create_default_context(cafile=str(ca))
        await writer.start_tls(context, server_hostname=LOOPBACK)
        target = "/collect"
    else:
        target = f"http://{LOOPBACK}:{upstream_port}/collect"
    request = (f"POST {target} HTTP/1.1\r\nhost: {LOOPBACK}:{upstream_port}\r\ncontent-type: application/json\r\n"
               f"user-agent: okhttp/4.12.0\r\ncontent-length: {len(workload.body)}\r\n\r\n").encode() + workload.body
    for _ in range(count):
        writer.write(request)
        await writer.drain()
        await _read_response(reader)
    writer.close()


async def _drive(proxy_port: int, upstream_port: int, workload: Workload, ca: Path) -> float:
    share, extra = divmod(workload.requests, workload.connections)
    started = time.perf_counter()
    await asyncio.gather(*(_connection(proxy_port, upstream_port, workload, share + (index < extra), ca)
                           for index in range(workload.connections)))
    return time.perf_counter() - started


# ---- one measured round ---------------------------------------------------------------------------

def _start_proxy(kind: str, port: int, confdir: Path, run_dir: Path) -> subprocess.Popen[bytes]:
    if kind == "mitmdump":
        command = [str(Path(sys.executable).with_name("mitmdump")), "-q", "--listen-host", LOOPBACK, "--listen-port", str(port),
                   "--set", f"confdir={confdir}", "--set", "connection_strategy=lazy", "--set", "ssl_insecure=true"]
    else:
        command = [sys.executable, __file__, "--capture-proxy", str(port), str(run_dir), str(confdir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_listening(port, process)
    return process


def _check_run(run_dir: Path, expected: int, reported: int) -> None:
    """Every request the client completed is recorded three times over, or the figures mean nothing."""
    from monitor.analysis.flowparts import load_flows
    from monitor.store.reader import read_run

    run = read_run(run_dir)
    events = int((run.events["kind"] == "flow").sum())
    mitm = len(load_flows(run_dir))
    if not (events == len(run.flows) == mitm == reported == expected):
        raise RuntimeError(f"capture lost flows: sent {expected}, addon recorded {reported}, events {events}, "
                           f"flows.jsonl {len(run.flows)}, flows.mitm {mitm}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, workload: Workload, upstream: tuple[int, int], confdir: Path, scratch: Path,
            ca: Path) -> tuple[float, float]:
    """(wall seconds, proxy CPU seconds) for the workload through one freshly started proxy."""
    port = free_port()
    run_dir = scratch / f"run-{kind}-{workload.name}-{time.monotonic_ns()}"
    process = _start_proxy(kind, port, confdir, run_dir)
    try:
        cpu_before = cpu_seconds(process.pid)
        seconds = asyncio.run(_drive(port, upstream[1] if workload.tls else upstream[0], workload, ca))
        cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    if kind == "capture":
        if process.returncode != 0:
            raise RuntimeError(f"capture proxy failed: {err.decode(errors='replace')[-2000:]}")
        summary = json.loads(out.decode().strip().splitlines()[-1])
        _check_run(run_dir, workload.requests, summary["flows_recorded"])
    return seconds, cpu


def addon_cost(body: bytes, scratch: Path, count: int) -> dict[str, float]:
    """Milliseconds per flow the addon spends on an exchange like the workload's, offline (no proxy): while
    the flow is live, on mitmproxy's loop (state, spooled, event), and of that the state as the addon takes
    it against mitmproxy's own `get_state`; then, once the capture finishes, writing the flow's flows.mitm
    and flows.jsonl records from the spool."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    from monitor.capture.addon import CaptureAddon
    from monitor.capture.flowstate import flow_state
    from monitor.store.writer import RunWriter

    run_dir = scratch / f"addon-cost-{time.monotonic_ns()}"
    writer = RunWriter(run_dir, run_info={"bench": "addon cost"})
    addon = CaptureAddon(writer, run_dir)
    # One client and one server connection for all of them, as on a keep-alive connection.
    first = tflow.tflow(resp=True)
    flows = []
    for _ in range(count):
        flow = tflow.tflow(req=http.Request.make("POST", "http://127.0.0.1:8080/collect", body,
                                                 {"content-type": "application/json", "user-agent": "okhttp/4.12.0"}),
                           resp=tflow.tresp(content=REPLY))
        flow.client_conn, flow.server_conn = first.client_conn, first.server_conn
        flows.append(flow)
    started = time.perf_counter()
    for flow in flows:
        addon.response(flow)
    live = (time.perf_counter() - started) / count
    started = time.perf_counter()
    addon.finish()
    derive = (time.perf_counter() - started) / count
    writer.close()
    if addon.flows_recorded != count or addon.failure is not None:
        raise RuntimeError(f"addon recorded {addon.flows_recorded} of {count} flows offline ({addon.failure})")
    started = time.perf_counter()
    for flow in flows:
        flow.get_state()
    get_state = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for flow in flows:
        flow_state(flow)
    fast_state = (time.perf_counter() - started) / count
    return {"live_ms": live * 1e3, "get_state_ms": get_state * 1e3, "flow_state_ms": fast_state * 1e3,
            "derive_ms": derive * 1e3}


def run(requests: int, large: int, rounds: int) -> list[dict[str, object]]:
    from monitor.capture.ca import ensure_ca

    workloads = [Workload("small HTTP POST (~500 B)", False, SMALL_BODY, requests, 8),
                 Workload("small HTTPS POST (~500 B)", True, SMALL_BODY, requests, 8),
                 Workload("large HTTP POST (1 MiB)", False, LARGE_BODY, large, 4)]
    results = []
    with tempfile.TemporaryDirectory(prefix="consentmon-bench-proxy-") as directory:
        scratch = Path(directory)
        confdir = scratch / "mitmproxy-conf"
        ca = ensure_ca(confdir)
        ports = (free_port(), free_port())
        upstream = subprocess.Popen([sys.executable, __file__, "--upstream", str(ports[0]), str(ports[1]), str(scratch)])
        try:
            wait_listening(ports[0], upstream)
            wait_listening(ports[1], upstream)
            for workload in workloads:
                times: dict[str, list[float]] = {"mitmdump": [], "capture": []}
                cpu: dict[str, list[float]] = {"mitmdump": [], "capture": []}
                for _ in range(rounds):
                    for kind in ("mitmdump", "capture"):
                        seconds, cpu_used = measure(kind, workload, ports, confdir, scratch, ca)
                        times[kind].append(seconds)
                        cpu[kind].append(cpu_used)
                plain = workload.requests * rounds / sum(times["mitmdump"])
                ours = workload.requests * rounds / sum(times["capture"])
                row = {"workload": workload.name, "requests": workload.requests, "connections": workload.connections,
                       "rounds": rounds, "plain_rps": plain, "capture_rps": ours, "ratio": ours / plain,
                       "plain_mb_s": plain * len(workload.body) / 1e6, "capture_mb_s": ours * len(workload.body) / 1e6,
                       "plain_ms_per_request": 1e3 / plain, "capture_ms_per_request": 1e3 / ours,
                       "round_ratios": [plain_s / ours_s for plain_s, ours_s in zip(times["mitmdump"], times["capture"])],
                       "plain_cpu_ms": 1e3 * sum(cpu["mitmdump"]) / (workload.requests * rounds),
                       "capture_cpu_ms": 1e3 * sum(cpu["capture"]) / (workload.requests * rounds),
                       "addon": addon_cost(workload.body, scratch, 50 if len(workload.body) > 100_000 else 1000)}
                print(json.dumps(row), flush=True)
                results.append(row)
        finally:
            upstream.terminate()
            upstream.wait(timeout=30)
    return results


def write_section(results: list[dict[str, object]], args: argparse.Namespace) -> None:
    rows, costs = [], []
    for r in results:
        large = "MiB" in str(r["workload"])
        plain = f"{r['plain_rps']:.1f} req/s" + (f" ({r['plain_mb_s']:.1f} MB/s)" if large else "")
        ours = f"{r['capture_rps']:.1f} req/s" + (f" ({r['capture_mb_s']:.1f} MB/s)" if large else "")
        spread = f"{min(r['round_ratios']):.2f}–{max(r['round_ratios']):.2f}"
        rows.append(f"| {r['workload']} | {r['requests']} × {r['rounds']} | {plain} | {ours} | {r['ratio']:.2f} | {spread} |")
        cost = r["addon"]
        costs.append(f"| {r['workload']} | {r['plain_cpu_ms']:.2f} | {r['capture_cpu_ms']:.2f} | "
                     f"{r['plain_cpu_ms'] / r['capture_cpu_ms']:.2f} | "
                     f"{cost['live_ms']:.3f} | {cost['get_state_ms']:.3f} | {cost['flow_state_ms']:.3f} | {cost['derive_ms']:.2f} |")
    met = all(r["ratio"] >= 0.9 for r in results)
    section = "\n".join([
        SECTION,
        f"`bench/proxy/run.py --requests {args.requests} --large {args.large} --rounds {args.rounds}` — requests through plain "
        "`mitmdump -q` and through mitmproxy with our CaptureAddon (CaptureProxy writing a RunWriter run: each flow "
        "spooled and its event written, both flushed before the response goes on; flows.mitm and flows.jsonl "
        "written from the spool when the proxy stops), same run, alternating rounds; loopback upstream and "
        "client started by the bench, keep-alive connections (8 for small, 4 for large). Every capture round is "
        "read back and must hold every request in all three files. Target: ratio ≥ 0.9.",
        "",
        "| workload | requests × rounds | plain mitmdump | with CaptureAddon | ratio | ratio per round |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Target **{'met' if met else 'not met'}**" + ("." if met else " where the ratio is below 0.9.") + " "
        "How: mitmproxy serves every connection from one Python thread, so whatever the addon does per flow is "
        "added to every request, and on these 2 cores (client, upstream and proxy share them) so is any CPU spent "
        "elsewhere. So per flow the addon does only what needs the live flow, and flushes it before the response "
        "goes on: the flow's state (monitor/capture/flowstate.py: the same value and key order as mitmproxy's "
        "`get_state`, checked byte for byte, with each connection field's converter built once from its type hint "
        "instead of inspecting the hint on every call, and each certificate's PEM kept), appended to flows.spool "
        "as msgpack (msgspec, ~2 µs; our tnetstring encoder, pure Python, took ~0.1 ms), and the event. When the "
        "capture finishes, the spool becomes flows.mitm (byte for byte what mitmproxy writes) and flows.jsonl "
        "(bodies decoded, capped, base64 for binary): the last column, per flow, paid once at the end of a run. "
        "Tried and dropped: writing both files in a separate process, with the response held until it "
        "acknowledged the flow — pickling, the pipe and the wake-ups cost more than the encoding they moved "
        "(0.61-0.84 here), because nothing on this machine is idle. "
        "A 1 MiB body is written to the spool once while the flow is live (one 1 MiB write and flush to this disk"
        " costs ~0.3 ms of CPU, measured alone; live, with the client and upstream copying the same megabytes, "
        "the addon's hooks took ~0.9-1.1 ms per such flow against ~0.45 offline); with that write skipped (a test"
        " only), the same workload measured 0.91. So at ~170 MB/s of bodies the capture is bound by writing them:"
        " with 300 requests per round instead of 60 the ratio fell to 0.62 as the kernel's writeback of the "
        "spooled megabytes competed for the 2 cores. Handing large writes to a thread (the GIL is released while "
        "writing) measured 0.77: the hand-offs cost more than they moved. Bodies are the evidence, so they are "
        "stored whole; a phone's traffic is far below these rates. CPU per request is the proxy process's, from "
        "/proc.",
        "",
        "| workload | plain proxy CPU ms/request | capture proxy CPU ms/request | CPU ratio | addon per live flow ms (offline) | mitmproxy get_state ms | flow_state ms | flows.mitm + flows.jsonl at the end ms/flow |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *costs,
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs (upstream, proxy and client "
        f"share them), Python {platform.python_version()}; one run. The per-round spread shows how much the other "
        f"jobs on these cores move a single round: read the ratio as ± that much.",
        "",
    ])
    from monitor.testing.benchmarks import replace_section
    replace_section(SECTION, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="small requests per round")
    parser.add_argument("--large", type=int, default=60, help="1 MiB requests per round")
    # Several short alternating rounds rather than one long one: on shared cores the load from other jobs
    # drifts, and alternating spreads that drift over both arms.
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--write", action="store_true", help="record the figures in BENCHMARKS.md")
    parser.add_argument("--upstream", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--capture-proxy", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        asyncio.run(_upstream(int(args.upstream[0]), int(args.upstream[1]), Path(args.upstream[2])))
        return
    if args.capture_proxy:
        _capture_proxy(int(args.capture_proxy[0]), Path(args.capture_proxy[1]), Path(args.capture_proxy[2]))
        return
    results = run(args.requests, args.large, args.rounds)
    if args.write:
        write_section(results, args)


if __name__ == "__main__":
    main()
