"""mitmproxy, in-process, on 127.0.0.1: started on its own thread and event loop, stopped cleanly."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

from monitor.capture.addon import CaptureAddon
from monitor.capture.ca import DEFAULT_CONFDIR, ensure_ca
from monitor.errors import CaptureError
from monitor.store.sink import FlowSink

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class CaptureProxy:
    """A running proxy. Use as a context manager; `port` is where clients connect.

    connection_strategy=lazy: the upstream is contacted only when the request is forwarded, so HTTPS
    to a host that is unreachable (offline labs, blocked trackers) is still decrypted and recorded.
    """

    def __init__(self, sink: FlowSink, run_dir: Path, *, confdir: Path = DEFAULT_CONFDIR, port: int | None = None,
                 block_upstream: bool = False, ssl_insecure: bool = False, body_cap: int | None = None,
                 local_answers: list[str] | None = None) -> None:
        self.confdir = Path(confdir)
        self.ca_cert = ensure_ca(self.confdir)
        self.port = port or free_port()
        self.addon = CaptureAddon(sink, run_dir, block_upstream=block_upstream, **({"body_cap": body_cap} if body_cap else {}))
        self._ssl_insecure = ssl_insecure
        # mitmproxy's map_local specs ("|url-regex|file"): requests answered from a local file, before the
        # capture addon's offline answer (the demo's policy page).
        self._local_answers = list(local_answers or [])
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._master: DumpMaster | None = None
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping = False

    def start(self) -> "CaptureProxy":
        self._thread = threading.Thread(target=self._serve, name="consentmon-proxy", daemon=True)
        self._thread.start()
        self._started.wait(timeout=30)
        if self._startup_error is not None:
            raise CaptureError(f"the capture proxy did not start: {self._startup_error}") from self._startup_error
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise CaptureError(f"the capture proxy is not listening on {LOOPBACK}:{self.port}",
                           hint="another program may hold the port; retry without --proxy-port")

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread, which raises it
            self._startup_error = exc
            self._started.set()

    async def _main(self) -> None:
        opts = options.Options(listen_host=LOOPBACK, listen_port=self.port, confdir=str(self.confdir))
        master = DumpMaster(opts, with_termlog=False, with_dumper=False)
        master.options.update(connection_strategy="lazy", ssl_insecure=self._ssl_insecure, map_local=self._local_answers)
        master.addons.add(self.addon)
        # Everything loaded so far (mitmproxy, our data, the agent host) lives as long as the run: moved out of
        # the collector's generations, a full collection no longer walks it between requests. Garbage that
        # exists now is collected first, so none of it is kept for good.
        gc.collect()
        gc.freeze()
        self._master = master
        self._started.set()
        try:
            await master.run()
        finally:
            # mitmproxy leaves its listening socket open when its loop ends: closed here, so a stopped capture
            # refuses connections at once (rather than accepting into a backlog nobody reads), and a process that
            # records many runs (the pytest plugin, a lab worker) does not collect ports.
            server = master.addons.get("proxyserver")
            if server is not None:
                await server.servers.update([])

    def stop(self) -> None:
        self._stopping = True
        if self._master is not None and self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._master.shutdown)
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._master is not None and gc.get_freeze_count():
            # What was frozen at the start lived as long as the run; once it is over, what of it became garbage
            # can be collected again (a process recording run after run would otherwise keep every run's).
            gc.unfreeze()
        self.addon.finish()
        self._discard_loop()

    def _discard_loop(self) -> None:
        """Close the stopped loop. Connections mitmproxy still held (a WebSocket, a long poll) were recorded by
        `finish` as they stood and are abandoned, as they always were; their tasks are told not to complain when
        collected, which would otherwise happen in the middle of the next capture's start (mitmproxy's
        errorcheck then refuses to start, on an error logged during startup)."""
        loop = self._loop
        if loop is None or loop.is_running() or loop.is_closed():
            return
        for task in asyncio.all_tasks(loop):
            task._log_destroy_pending = False  # type: ignore[attr-defined]
        loop.close()

    def fetch(self, url: str, *, marker: tuple[str, str], timeout: float = 10.0) -> tuple[int, str | None]:
        """GET `url` through this proxy, trusting its CA, so the page is recorded like the app's traffic; the
        `marker` header says consentmon, not the app, asked. Returns (status, content type)."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        proxy_url = f"http://{LOOPBACK}:{self.port}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url}),
                                             urllib.request.HTTPSHandler(context=context))
        request = urllib.request.Request(url, headers={marker[0]: marker[1], "User-Agent": "consentmon"})
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read()
                return response.status, response.headers.get("content-type")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("content-type") if error.headers else None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise CaptureError(f"could not fetch {url} through the capture proxy: {error}") from error

    def check(self) -> None:
        if (self.addon.failure is None and not self._stopping and self._thread is not None
                and self._started.is_set() and not self._thread.is_alive()):
            # mitmproxy's loop ended under a running capture: the app's traffic now meets a closed port.
            self.addon.failure = CaptureError(
                f"the capture proxy on {LOOPBACK}:{self.port} stopped during the run: traffic after this moment was "
                "not recorded (the run is sealed as partial, with the gap)",
                hint="run again; if it recurs, look at this machine's memory and open-file limits (ulimit -n)")
        if self.addon.failure is not None:
            raise self.addon.failure

    def __enter__(self) -> "CaptureProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
