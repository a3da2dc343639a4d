"""The real testbed: replicas of the service behind a real nginx, all on 127.0.0.1.

nginx runs as a child process with its own prefix and configuration under a temporary
directory; a change of configuration rewrites ``nginx.conf`` and runs ``nginx -s reload``,
then waits until nginx answers ``/__generation`` with the new generation (a condition, not a
sleep). Replicas are ``python -m activities.fleet.service`` processes.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from personas.fleet.config import DEFAULT_CONFIG, FleetConfig

_BALANCER = {"round_robin": "", "least_conn": "least_conn;", "hash": "hash $uri consistent;"}
READY_TIMEOUT_S = 15.0


class TestbedError(RuntimeError):
    """The testbed could not start or change."""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PortRange:
    """Loopback ports handed out from ``base`` upward (skipping ports in use), wrapping after
    ``size``: a fixed range for the testbeds' nginx and replicas (firewall-friendly)."""

    def __init__(self, base: int, size: int = 1000) -> None:
        if not 1024 <= base <= 65535 - size:
            raise ValueError(f"testbed base port must be in [1024, {65535 - size}], got {base}")
        self.base = base
        self.size = size
        self.next = 0
        self.lock = threading.Lock()

    def __call__(self) -> int:
        """The next free port of the range."""
        with self.lock:
            for _ in range(self.size):
                port = self.base + self.next
                self.next = (self.next + 1) % self.size
                with socket.socket() as s:
                    try:
                        s.bind(("127.0.0.1", port))
                    except OSError:
                        continue
                return port
        raise TestbedError(f"no free port in {self.base}-{self.base + self.size - 1}")


def _wait(check: object, what: str, timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise TestbedError(f"timed out waiting for {what}")


def children(pid: int) -> set[int]:
    """Pids of the live children of ``pid`` (from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def _get(url: str, timeout: float = 1.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return str(r.read().decode())
    except OSError:
        return None


class Testbed:
    """Replicas + nginx. Use as a context manager; ``apply(config)`` reconfigures."""

    __test__ = False

    def __init__(
        self, config: FleetConfig = DEFAULT_CONFIG, ports: Callable[[], int] = free_port
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fleet-testbed-"))
        self.ports = ports
        self.port = ports()
        self.config = config
        self.generation = 0
        self.replicas: list[tuple[int, subprocess.Popen[bytes]]] = []
        self.nginx: subprocess.Popen[bytes] | None = None
        self.nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"

    @property
    def url(self) -> str:
        """The fleet's entry point."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Testbed:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, config: FleetConfig) -> list[tuple[int, subprocess.Popen[bytes]]]:
        out = []
        for _ in range(config.replicas):
            port = self.ports()
            args = [str(port), str(config.cpu_share), config.cache]
            proc = subprocess.Popen(
                [sys.executable, "-m", "activities.fleet.service", *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            out.append((port, proc))
        for port, _ in out:
            _wait(lambda p=port: _get(f"http://127.0.0.1:{p}/item/ready") is not None, "replica")
        return out

    def _write_conf(self, ports: list[int]) -> None:
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=0;" for p in ports)
        conf = f"""worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  upstream fleet {{
    {_BALANCER[self.config.balancer]}
{servers}
  }}
  server {{
    listen 127.0.0.1:{self.port};
    location = /__generation {{ return 200 "{self.generation}"; }}
    location / {{
      proxy_pass http://fleet;
      proxy_connect_timeout 2s;
      proxy_read_timeout 5s;
    }}
  }}
}}
"""
        (self.dir / "nginx.conf").write_text(conf)

    def _nginx(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        cmd = [self.nginx_bin, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), *args]
        return subprocess.run(cmd, capture_output=True, timeout=10, check=False)

    def _await_generation(self) -> None:
        want = str(self.generation)
        _wait(lambda: _get(f"{self.url}/__generation") == want, f"nginx generation {want}")

    def start(self) -> None:
        """Start the replicas and nginx; return when nginx serves."""
        self.replicas = self._spawn(self.config)
        self._write_conf([p for p, _ in self.replicas])
        test = self._nginx("-t")
        if test.returncode != 0:
            raise TestbedError(f"nginx config refused: {test.stderr.decode()[-300:]}")
        cmd = [self.nginx_bin, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")]
        self.nginx = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._await_generation()

    def apply(self, config: FleetConfig) -> None:
        """Reconfigure: new replicas (if their settings change), new nginx config, reload."""
        old = self.replicas
        self.config = config
        self.replicas = self._spawn(config)
        self.generation += 1
        self._write_conf([p for p, _ in self.replicas])
        assert self.nginx is not None
        old_workers = children(self.nginx.pid)
        reload = self._nginx("-s", "reload")
        if reload.returncode != 0:
            raise TestbedError(f"nginx reload failed: {reload.stderr.decode()[-300:]}")
        self._await_generation()
        master = self.nginx.pid
        _wait(lambda: not (children(master) & old_workers), "old nginx workers to exit")
        _stop_all([p for _, p in old])

    def stop(self) -> None:
        """Stop nginx and every replica, and remove the directory."""
        if self.nginx is not None:
            self._nginx("-s", "quit")
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
            self.nginx = None
        _stop_all([p for _, p in self.replicas])
        self.replicas = []
        shutil.rmtree(self.dir, ignore_errors=True)


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
