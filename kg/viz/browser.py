"""Drive headless Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``): no websocket
client, no port, nothing but the standard library.  Used by the viewer test and benchmark.

>>> find_chromium() is None or find_chromium().endswith(("chromium", "chromium-browser", "chrome", "google-chrome"))
True
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["find_chromium", "Chromium", "Page", "BrowserError", "chromium_flags", "off_machine"]


class BrowserError(RuntimeError):
    pass


def off_machine(urls: list[str]) -> list[str]:
    """The URLs that would leave this machine: anything but loopback http(s), file:, data:, blob:, about:.

    >>> off_machine(["http://127.0.0.1:8000/", "file:///tmp/v.html", "data:,x", "https://cdn.example/r.js"])
    ['https://cdn.example/r.js']
    """
    from urllib.parse import urlsplit

    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("file", "data", "blob", "about"):
            continue
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in ("127.0.0.1", "localhost", "::1"):
            continue
        out.append(url)
    return out


def find_chromium() -> str | None:
    """Debian's chromium (or another Chrome) on PATH, or ``$KG_CHROMIUM``."""
    env = os.environ.get("KG_CHROMIUM")
    if env:
        return env if os.path.exists(env) else shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_flags(user_data_dir: str, width: int, height: int) -> list[str]:
    """Headless, as root, offline: no host name but 127.0.0.1 resolves (pages are opened by loopback IP or file URL), no
    proxy, and the background-networking flags keep it from calling Google's hosts."""
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--no-proxy-server",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
            "--disable-dev-shm-usage", f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}"]


class Chromium:
    """One headless Chromium process, spoken to over fds 3 and 4."""

    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 900, timeout: float = 30.0):
        exe = executable or find_chromium()
        if not exe:
            raise BrowserError("no chromium on PATH; install Debian's 'chromium' package")
        self.width, self.height, self.timeout = width, height, timeout
        self._dir = tempfile.mkdtemp(prefix="kg-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def plumbing() -> None:  # in the child, before exec: its fd 3 reads our commands, fd 4 writes answers
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        args = [exe, *chromium_flags(self._dir, width, height), "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, close_fds=False, preexec_fn=plumbing)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._closed = False
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.version = self.send("Browser.getVersion")

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(line)

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            mid = self._next
            msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while mid not in self._answers:
                left = deadline - time.monotonic()
                if self._closed:
                    raise BrowserError(f"chromium went away during {method}: "
                                       + b"".join(self._stderr[-5:]).decode(errors="replace"))
                if left <= 0:
                    raise BrowserError(f"no answer to {method} in {timeout or self.timeout:.0f} s")
                self._cond.wait(left)
            answer = self._answers.pop(mid)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error'].get('message')}")
        return answer.get("result", {})

    def wait_event(self, method: str, session: str | None = None, timeout: float | None = None,
                   since: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise BrowserError(f"no {method} event in {timeout or self.timeout:.0f} s")
                self._cond.wait(left)

    def new_page(self) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, target, session)

    def close(self) -> None:
        try:
            if not self._closed and self.proc.poll() is None:
                self.send("Browser.close", timeout=5)
        except BrowserError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Page:
    def __init__(self, browser: Chromium, target: str, session: str):
        self.browser, self.target, self.session = browser, target, session
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": browser.width, "height": browser.height, "deviceScaleFactor": 1, "mobile": False})

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session, timeout)

    def _events(self, method: str) -> Iterator[dict[str, Any]]:
        return (e["params"] for e in list(self.browser.events)
                if e.get("method") == method and e.get("sessionId") == self.session)

    def goto(self, url: str, timeout: float = 30.0) -> float:
        """Navigate and wait for the load event; the seconds it took."""
        since = len(self.browser.events)
        t0 = time.perf_counter()
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired", self.session, timeout, since)
        return time.perf_counter() - t0

    def eval(self, expression: str, timeout: float | None = None) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                        timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError(f"page script failed: {d.get('exception', {}).get('description') or d.get('text')}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.02) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression}")
            time.sleep(interval)

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out

    def requests(self) -> list[str]:
        """URLs the page asked for (the document itself included)."""
        return [p["request"]["url"] for p in self._events("Network.requestWillBeSent")]

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and browser log errors (CSP violations among them)."""
        out = [p["exceptionDetails"].get("exception", {}).get("description") or p["exceptionDetails"].get("text", "")
               for p in self._events("Runtime.exceptionThrown")]
        out += [" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                for p in self._events("Runtime.consoleAPICalled") if p.get("type") == "error"]
        out += [p["entry"]["text"] for p in self._events("Log.entryAdded") if p["entry"].get("level") == "error"]
        return out


@contextmanager
def open_page(width: int = 1400, height: int = 900) -> Iterator[Page]:
    with Chromium(width=width, height=height) as browser:
        yield browser.new_page()
