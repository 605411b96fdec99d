"""Helpers for the end-to-end tests that run real servers on loopback (not a test module).

- ``free_port``, ``Proc`` (a child process with its output in a log file) and
  ``wait_until`` (poll a check while the process lives).
- ``resolve_localhost_names``: ``*.localhost`` -> 127.0.0.1 in this process (RFC 6761),
  proxies off; nothing system-wide changes.
- ``caddyfile_from_template``: templates/Caddyfile.j2 rendered with Jinja settings like
  the generator's (strict undefined, trimmed blocks) for a ``tls.mode: internal`` stack,
  without importing the generator package.
- ``CaddyProxy``: Debian's real ``caddy`` run from a Caddyfile. Caddy adapts the Caddyfile
  to JSON itself; only what the Caddyfile leaves to the machine is changed: listen on
  127.0.0.1, no admin endpoint, no root-CA install into this machine's trust store, HOME
  and XDG dirs inside the test's directory. Clients trust only Caddy's internal root.

Example::

    with resolve_localhost_names():
        caddy = CaddyProxy(tmp_path, caddyfile_from_template(...), http_port=hp, https_port=sp)
        caddy.wait_healthy("socket.localhost", "/health")
        caddy.session().get(caddy.url("socket.localhost", "/health"))
        caddy.stop()
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import requests

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
START_TIMEOUT = 30.0
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process with its output in a log file; stop() always ends it.

    Example: ``p = Proc(["node", "server.js"], tmp_path / "app.log", env=env); p.stop()``
    """

    def __init__(self, args: list[str], log: Path, **kwargs: Any) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - open for the child's whole life, closed in stop()
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self._out.close()
        return self.proc.returncode


def wait_until(check: Callable[[], Any], what: str, proc: Proc, timeout: float = START_TIMEOUT) -> Any:
    """Call ``check`` until it returns something truthy; fail if ``proc`` exits or time runs out.

    Example: ``wait_until(lambda: requests.get(url).ok, "the app", proc)``
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not proc.alive():
            raise AssertionError(f"{what}: process exited ({proc.proc.returncode}):\n{proc.output()}")
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{what}: not ready after {timeout} s (last error: {last!r}):\n{proc.output()}")


@contextlib.contextmanager
def resolve_localhost_names() -> Iterator[None]:
    """Resolve ``*.localhost`` to 127.0.0.1 in this process and drop proxy variables
    (glibc here only knows the plain name from /etc/hosts).

    Example: ``with resolve_localhost_names(): requests.get("https://a.localhost:8443")``
    """
    real = socket.getaddrinfo
    saved = {var: os.environ.pop(var) for var in PROXY_VARS if var in os.environ}

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]
        os.environ.update(saved)


def caddyfile_from_template(*, socket_port: int, livekit_port: int, hosts: dict[str, str], http_port: int, https_port: int) -> str:
    """templates/Caddyfile.j2 for a ``tls.mode: internal`` stack without TURN/TLS, rendered
    as the generator renders it (same Jinja options; ``tls_line`` as it writes it).

    Example: ``caddyfile_from_template(socket_port=3001, livekit_port=7880,
    hosts={"socket_host": "s.localhost", "livekit_host": "l.localhost"}, http_port=8080, https_port=8443)``
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    config = SimpleNamespace(
        tls=SimpleNamespace(mode="internal", email=None),
        socket=SimpleNamespace(port=socket_port),
        livekit=SimpleNamespace(port=livekit_port),
    )
    return env.get_template("Caddyfile.j2").render(
        c=config,
        socket_host=hosts["socket_host"],
        livekit_host=hosts["livekit_host"],
        turn_host=None,
        turn_cert_site=False,
        tls_line="tls internal",
        http_port=http_port,
        https_port=https_port,
    )


class CaddyProxy:
    """Debian's caddy running ``caddyfile`` on loopback, its state inside ``workdir``.

    Example: ``c = CaddyProxy(tmp_path, text, http_port=8080, https_port=8443); c.wait_healthy(host, "/health")``
    """

    def __init__(self, workdir: Path, caddyfile: str, *, http_port: int, https_port: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port = http_port, https_port
        self.env = dict(os.environ)
        for var, sub in (("HOME", "home"), ("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
            (workdir / sub).mkdir(exist_ok=True)
            self.env[var] = str(workdir / sub)
        self.data_dir = workdir / "data" / "caddy"
        self.caddyfile = workdir / "Caddyfile"
        self.caddyfile.write_text(caddyfile, encoding="utf-8")
        self.json = self._adapt()
        self.json_path = workdir / "caddy.json"
        self.json_path.write_text(json.dumps(self.json, indent=2), encoding="utf-8")
        self.proc = Proc(["caddy", "run", "--config", str(self.json_path)], workdir / "caddy.log", env=self.env, cwd=workdir)

    def _adapt(self) -> dict[str, Any]:
        adapted = subprocess.run(  # noqa: PLW1510 - the exit code is checked below
            ["caddy", "adapt", "--config", str(self.caddyfile), "--adapter", "caddyfile"],
            capture_output=True, text=True, env=self.env, timeout=60, stdin=subprocess.DEVNULL,
        )
        if adapted.returncode != 0:
            raise AssertionError(f"caddy adapt refused the Caddyfile:\n{adapted.stderr}\n{self.caddyfile.read_text()}")
        config = json.loads(adapted.stdout)
        servers = config["apps"]["http"]["servers"]
        # The ports came from the Caddyfile (http_port, https_port), not from anything patched here.
        if [s["listen"] for s in servers.values()] != [[f":{self.https_port}"]] or config["apps"]["http"].get("http_port") != self.http_port:
            raise AssertionError(f"unexpected listeners in the adapted Caddyfile:\n{adapted.stdout}")
        for s in servers.values():
            s["listen"] = [f"127.0.0.1:{self.https_port}"]
        config["admin"] = {"disabled": True}
        config["apps"]["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
        return config

    @property
    def root_ca(self) -> Path:
        return self.data_dir / "pki" / "authorities" / "local" / "root.crt"

    def url(self, host: str, path: str = "") -> str:
        return f"https://{host}:{self.https_port}{path}"

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.verify = str(self.root_ca)  # Caddy's internal root only: no verification is skipped
        return s

    def wait_healthy(self, host: str, path: str) -> None:
        def healthy() -> bool:
            return self.root_ca.exists() and self.session().get(self.url(host, path), timeout=5).status_code == 200

        wait_until(healthy, f"Caddy in front of {host}", self.proc)

    def stop(self) -> int:
        return self.proc.stop()

    @contextlib.contextmanager
    def serving(self, host: str, path: str = "/health") -> Iterator[CaddyProxy]:
        """Waits until ``host`` answers ``path`` through Caddy, yields the proxy, stops it after."""
        try:
            self.wait_healthy(host, path)
            yield self
        finally:
            self.stop()
