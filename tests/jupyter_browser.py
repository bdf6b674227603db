"""Drive a live JupyterLab in headless Chromium with real pointer events.

The browser is driven over the Chrome DevTools Protocol (``websocket-client``;
no Playwright, no Selenium)::

    with jupyter_lab(folder) as lab, chromium_page(chromium) as page:
        run_notebook_in_lab(page, lab, "draw.ipynb", done="!!document.querySelector('canvas')")
        x, y, width, height = page.box("canvas")
        page.drag([(x + 10, y + 10), (x + width / 2, y + height / 2)])
        page.screenshot(Path("_build/screenshots/draw.png"))

JupyterLab runs as ``python -m jupyter lab`` from this interpreter (so the
kernel is this venv's python) on 127.0.0.1 with a random token, private
config, data, runtime, settings and workspace folders, and nothing fetched from
the network (no news, no update check, a read-only extension manager).
Chromium takes ``browser_check.CHROMIUM_FLAGS``: headless and offline but for
127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import websocket

from tests.browser_check import CHROMIUM_FLAGS

LAB_FLAGS = (
    "--no-browser",
    "--allow-root",
    "--ServerApp.ip=127.0.0.1",
    "--ServerApp.port_retries=0",
    "--LabApp.expose_app_in_browser=True",
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    "--LanguageServerManager.autodetect=False",  # jupyter_lsp would run `npm prefix -g`
)
"""Options of every ``jupyter lab`` run: local, scriptable (``window.jupyterapp``), offline."""
PRIVATE_DIRS = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTERLAB_SETTINGS_DIR": "settings",
    "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
    "IPYTHONDIR": "ipython",
}
"""Folders JupyterLab and its kernels would otherwise read from, or write to, ``$HOME``."""
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
"""JupyterLab's page config: no announcements plugin, whose "Would you like to get notified
about official Jupyter news?" toast would cover the page (``news_url=None`` does not stop it)."""
USER_SETTINGS = {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"}}
"""JupyterLab user settings: every cell laid out all the time. With the default windowing,
cells out of sight are not laid out and the notebook re-scrolls as they are, so an element
measured a moment ago is elsewhere when the pointer arrives (and its text reads empty)."""
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""An opener that never goes through an ``http_proxy`` to reach 127.0.0.1."""


KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
"""The kernelspec of the notebooks :func:`write_notebook` makes (this venv's ipykernel)."""


def write_notebook(path: Path, *sources: str) -> Path:
    """A notebook of code cells ``sources`` at ``path``, for JupyterLab to run."""
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNEL}), path)
    return path


def find_jupyterlab() -> bool:
    """Whether ``jupyterlab`` is importable in this interpreter."""
    return importlib.util.find_spec("jupyterlab") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the process group ``proc`` leads (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers, or a leader that ignored SIGTERM
    proc.wait()


def _wait_until(ready: Callable[[], Any], timeout: float, proc: subprocess.Popen, log: Path) -> Any:
    """Poll ``ready()`` until it returns something truthy; fail with ``log``'s tail if
    ``proc`` exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError):
            value = ready()
            if value:
                return value
        if proc.poll() is not None or time.monotonic() > deadline:
            exited = proc.poll() is not None
            state = (
                f"exited with {proc.returncode}" if exited else f"timed out after {timeout:.0f} s"
            )
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{proc.args[:4]} {state}; log tail:\n{tail}")
        time.sleep(0.2)


@dataclass
class Lab:
    """A running JupyterLab: its base URL (ending in ``/``), token and log file."""

    base: str
    token: str
    log_file: Path

    def url(self, path: str) -> str:
        """The URL that opens ``path`` (relative to the root folder) in JupyterLab."""
        return f"{self.base}lab/tree/{urllib.parse.quote(path)}?token={self.token}"

    def log(self) -> str:
        """The server's log so far."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


@contextmanager
def jupyter_lab(root: Path, timeout: float = 120) -> Iterator[Lab]:
    """JupyterLab serving ``root``, up (``/api/status`` answers) until the block ends."""
    with tempfile.TemporaryDirectory(prefix="synovis-lab-", ignore_cleanup_errors=True) as tmp:
        state = Path(tmp)
        env = {
            k: v for k, v in os.environ.items() if k not in {"JUPYTER_PATH", "JUPYTER_CONFIG_PATH"}
        }
        env |= {name: str(state / folder) for name, folder in PRIVATE_DIRS.items()}
        port, token = _free_port(), secrets.token_hex(16)
        lab = Lab(f"http://127.0.0.1:{port}/", token, state / "lab.log")
        (state / "config" / "labconfig").mkdir(parents=True)
        (state / "config/labconfig/page_config.json").write_text(json.dumps(PAGE_CONFIG))
        for plugin, values in USER_SETTINGS.items():
            settings = state / "settings" / f"{plugin}.jupyterlab-settings"
            settings.parent.mkdir(parents=True)
            settings.write_text(json.dumps(values))
        cmd = [sys.executable, "-m", "jupyter", "lab", *LAB_FLAGS, f"--ServerApp.port={port}"]
        cmd += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
        with lab.log_file.open("wb") as log:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
        try:
            status = f"{lab.base}api/status?token={token}"
            up = lambda: _LOCAL.open(status, timeout=5).status == 200  # noqa: E731
            _wait_until(up, timeout, proc, lab.log_file)
            yield lab
        finally:
            _stop(proc)


class Page:
    """One Chromium tab over CDP: navigation, JavaScript, real mouse events, screenshots."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.errors: list[str] = []
        """Console errors and uncaught exceptions seen so far."""
        self._id = 0

    def call(self, method: str, **params: Any) -> dict:
        """Send one CDP command and return its result; events read meanwhile are noted."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            event, params_ = message.get("method"), message.get("params", {})
            if event == "Runtime.exceptionThrown":  # "Uncaught Error: ..."
                details = params_["exceptionDetails"]
                thrown = details.get("exception", {}).get("description", "")
                self.errors.append(f"{details['text']} {thrown}".strip())
            elif event == "Runtime.consoleAPICalled" and params_["type"] == "error":
                args = [str(a.get("value", a.get("description"))) for a in params_["args"]]
                self.errors.append(" ".join(args))

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for its document to be complete."""
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"could not load {url}: {result['errorText']}")
        self.wait_for("document.readyState === 'complete'", what=f"{url} to load")

    def evaluate(self, js: str) -> Any:
        """The value of the JavaScript expression ``js``, a promise awaited; raises on a JS exception."""
        result = self.call("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    def wait_for(self, js_condition: str, timeout: float = 60, what: str = "") -> Any:
        """Poll ``js_condition`` every 0.2 s until it is truthy and return its value."""
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                value = self.evaluate(js_condition)
                if value:
                    return value
                last = ""
            except RuntimeError as error:  # e.g. the page is still navigating
                last = f" (last: {error})"
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f} s waiting for {what or js_condition}{last}; "
                    f"page errors: {self.errors}"
                )
            time.sleep(0.2)

    def box(self, selector: str) -> tuple[float, float, float, float]:
        """``(x, y, width, height)`` in CSS px of the first match, scrolled into view."""
        found = self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)}); if (!el) return null;"
            " el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});"
            " const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()"
        )
        if found is None:
            raise LookupError(f"no element matches {selector!r}")
        return tuple(found)

    def _mouse(self, kind: str, x: float, y: float, buttons: int = 0) -> None:
        moved = kind == "mouseMoved"
        button = "none" if moved and not buttons else "left"
        self.call(
            "Input.dispatchMouseEvent", type=kind, x=x, y=y, button=button, buttons=buttons,
            clickCount=0 if moved else 1,
        )  # fmt: skip

    def click(self, x: float, y: float) -> None:
        """A real left click (move, press, release) at ``(x, y)`` in CSS px."""
        self._mouse("mouseMoved", x, y)
        self._mouse("mousePressed", x, y, buttons=1)
        self._mouse("mouseReleased", x, y)

    def drag(self, points: Sequence[tuple[float, float]], step_delay: float = 0.02) -> None:
        """Press at the first point, move through the others, release at the last."""
        (x, y), *rest = points
        self._mouse("mouseMoved", x, y)
        self._mouse("mousePressed", x, y, buttons=1)
        for x, y in rest:
            time.sleep(step_delay)
            self._mouse("mouseMoved", x, y, buttons=1)
        self._mouse("mouseReleased", x, y)

    def text(self, selector: str) -> str:
        """The ``innerText`` of the first match ("" if none)."""
        return self.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText ?? ''")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the window, saved to ``path``."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def chromium_page(
    chromium: str, size: tuple[int, int] = (1400, 1100), timeout: float = 60
) -> Iterator[Page]:
    """A blank tab of a fresh headless ``chromium`` with a ``size`` (width, height) window."""
    with tempfile.TemporaryDirectory(prefix="synovis-cdp-", ignore_cleanup_errors=True) as tmp:
        profile, log = Path(tmp) / "profile", Path(tmp) / "chromium.log"
        # Its crash reports and dconf cache would go to ~/.config and ~/.cache.
        env = os.environ | {"XDG_CONFIG_HOME": str(profile), "XDG_CACHE_HOME": str(profile)}
        cmd = [chromium, *CHROMIUM_FLAGS, "--no-proxy-server", "--remote-debugging-port=0"]
        cmd += [f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "about:blank"]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )  # fmt: skip
        try:
            port_file = profile / "DevToolsActivePort"
            port = _wait_until(lambda: port_file.read_text().split("\n")[0], timeout, proc, log)
            targets = f"http://127.0.0.1:{port}/json"
            tabs = lambda: [t for t in json.load(_LOCAL.open(targets)) if t["type"] == "page"]  # noqa: E731
            pages = _wait_until(tabs, timeout, proc, log)
            ws = websocket.create_connection(
                pages[0]["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True
            )
            try:
                page = Page(ws)
                page.call("Page.enable")
                page.call("Runtime.enable")
                # A headless tab never has the focus, and JupyterLab tracks its current
                # notebook (the one commands act on) by focus.
                page.call("Emulation.setFocusEmulationEnabled", enabled=True)
                yield page
            finally:
                ws.close()
        finally:
            _stop(proc)


def run_notebook_in_lab(
    page: Page, lab: Lab, notebook: str, done: str, timeout: float = 180
) -> None:
    """Open ``notebook`` in JupyterLab, wait for its kernel to be idle, run all cells, then
    wait for the JavaScript condition ``done``; ``timeout`` seconds for it all."""
    deadline = time.monotonic() + timeout
    page.goto(lab.url(notebook))
    opened = (
        "(() => { const w = window.jupyterapp?.shell?.currentWidget;"
        f" return !!(w?.context?.isReady && w.context.path === {json.dumps(notebook)}"
        " && w.sessionContext?.isReady && w.sessionContext.session?.kernel?.status === 'idle'); })()"
    )
    page.wait_for(opened, deadline - time.monotonic(), f"{notebook} open with an idle kernel")
    # Not awaited: ``done`` (with what is left of ``timeout``) says when the run is over; a
    # rejected command is an uncaught exception, in ``page.errors``.
    page.evaluate("void window.jupyterapp.commands.execute('notebook:run-all-cells')")
    try:
        page.wait_for(done, max(deadline - time.monotonic(), 1), f"{done} after running {notebook}")
    except AssertionError as error:
        stderr = page.evaluate(
            "[...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="
            "\"application/vnd.jupyter.stderr\"]')].map(e => e.innerText).join('\\n')"
        )
        raise AssertionError(f"{error}\nthe notebook's stderr and tracebacks:\n{stderr}") from None
