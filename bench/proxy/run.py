"""Proxy throughput: plain mitmdump against mitmproxy with our CaptureAddon writing a run, in the same run.

    .venv/bin/python bench/proxy/run.py [--requests 3000] [--large 150] [--rounds 2] [--write]

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


def measure(kind: str, workload: Workload, upstream: tuple[int, int], confdir: Path, scratch: Path, ca: Path) -> float:
    port = free_port()
    run_dir = scratch / f"run-{kind}-{workload.name}-{time.monotonic_ns()}"
    process = _start_proxy(kind, port, confdir, run_dir)
    try:
        seconds = asyncio.run(_drive(port, upstream[1] if workload.tls else upstream[0], workload, ca))
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    if kind == "capture":
        if process.returncode != 0:
            raise RuntimeError(f"capture proxy failed: {err.decode(errors='replace')[-2000:]}")
        reported = json.loads(out.decode().strip().splitlines()[-1])["flows_recorded"]
        _check_run(run_dir, workload.requests, reported)
    return seconds


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
                for _ in range(rounds):
                    for kind in ("mitmdump", "capture"):
                        times[kind].append(measure(kind, workload, ports, confdir, scratch, ca))
                plain = workload.requests * rounds / sum(times["mitmdump"])
                ours = workload.requests * rounds / sum(times["capture"])
                row = {"workload": workload.name, "requests": workload.requests, "connections": workload.connections,
                       "rounds": rounds, "plain_rps": plain, "capture_rps": ours, "ratio": ours / plain,
                       "plain_mb_s": plain * len(workload.body) / 1e6, "capture_mb_s": ours * len(workload.body) / 1e6}
                print(json.dumps(row), flush=True)
                results.append(row)
        finally:
            upstream.terminate()
            upstream.wait(timeout=30)
    return results


def write_section(results: list[dict[str, object]], args: argparse.Namespace) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    rows = []
    for r in results:
        large = "MiB" in str(r["workload"])
        plain = f"{r['plain_rps']:.1f} req/s" + (f" ({r['plain_mb_s']:.1f} MB/s)" if large else "")
        ours = f"{r['capture_rps']:.1f} req/s" + (f" ({r['capture_mb_s']:.1f} MB/s)" if large else "")
        rows.append(f"| {r['workload']} | {r['requests']} × {r['rounds']} | {plain} | {ours} | {r['ratio']:.2f} |")
    section = "\n".join([
        SECTION,
        f"`bench/proxy/run.py --requests {args.requests} --large {args.large} --rounds {args.rounds}` — requests through plain "
        "`mitmdump -q` and through mitmproxy with our CaptureAddon (CaptureProxy writing a RunWriter run: flows.mitm, "
        "flows.jsonl and one event per flow, each flushed), same run, alternating rounds; loopback upstream and "
        "client started by the bench, keep-alive connections (8 for small, 4 for large). Every capture round is "
        "read back and must hold every request in all three files. Target: ratio ≥ 0.9.",
        "",
        "| workload | requests × rounds | plain mitmdump | with CaptureAddon | ratio |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs (upstream, proxy and client "
        f"share them), Python {platform.python_version()}; one run.",
        "",
    ])
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="small requests per round")
    parser.add_argument("--large", type=int, default=150, help="1 MiB requests per round")
    parser.add_argument("--rounds", type=int, default=2)
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
