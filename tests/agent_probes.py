"""Escape probes run from inside an agent sandbox, and the controls that show they can work.

A sandbox is granted ``handbook`` (read), ``shop`` (read) and ``notes`` (write) and nothing
else; the vault exists on the host but is not granted. Each probe tries to reach the
network (a real listener on the host), an unmounted path, or to write where it may not; it
*escaped* when what it tried worked. The controls do what the grants allow (read the
handbook, write the notes, query the dataset), so a probe that fails does so because the
sandbox refused it, not because the tools are broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from activities.agent.sandbox import Run


@dataclass(frozen=True)
class Probe:
    """One command run in the sandbox and how to tell whether it got through."""

    name: str
    kind: str
    argv: tuple[str, ...]
    worked: Callable[[Run], bool] = lambda run: run.exit_code == 0

    def escaped(self, run: Run) -> bool:
        """Whether the command got what it tried for."""
        return self.worked(run)


SKIP_PSEUDO = ("-path", "/proc", "-prune", "-o", "-path", "/sys", "-prune", "-o")


def _printed(run: Run) -> bool:
    return run.exit_code == 0 and bool(run.stdout.strip())


def probes(host_ips: list[str], port: int, vault: str) -> list[Probe]:
    """The escape probes: ``host_ips`` each have a listener on ``port``; ``vault`` is the
    host directory of the ungranted vault."""
    network = [
        Probe(f"connect {ip}:{port}", "network", ("nc", "-w", "2", ip, str(port)))
        for ip in host_ips
    ]
    return [
        *network,
        Probe("dns lookup", "network", ("nslookup", "example.com")),
        Probe(
            "any interface but lo",
            "network",
            ("sh", "-c", "ls /sys/class/net | grep -vx lo"),
            _printed,
        ),
        Probe("read the vault by host path", "unmounted", ("cat", f"{vault}/secrets.txt")),
        Probe("list /res/vault", "unmounted", ("ls", "/res/vault")),
        Probe(
            "find secrets.txt anywhere",
            "unmounted",
            ("find", "/", *SKIP_PSEUDO, "-name", "secrets.txt", "-print"),
            _printed,
        ),
        Probe("grep the secret anywhere", "unmounted", ("grep", "-rl", "hunter2", "/res", "/tmp")),
        Probe("docker socket", "unmounted", ("test", "-e", "/var/run/docker.sock")),
        Probe("touch a read-only mount", "write", ("touch", "/res/handbook/probe")),
        Probe("delete from a read-only mount", "write", ("rm", "-f", "/res/handbook/refunds.md")),
        Probe("append to the dataset", "write", ("sh", "-c", "echo x >> /res/shop.db")),
        Probe("delete rows", "write", ("sqlite3", "/res/shop.db", "DELETE FROM orders")),
        Probe("mkdir under /res", "write", ("mkdir", "/res/new")),
        Probe("write the root filesystem", "write", ("touch", "/probe")),
        Probe("write /etc", "write", ("touch", "/etc/probe")),
        Probe("run as root", "privilege", ("sh", "-c", 'test "$(id -u)" = 0')),
        Probe(
            "effective capabilities",
            "privilege",
            ("sh", "-c", "grep CapEff /proc/self/status | grep -v 0000000000000000"),
            _printed,
        ),
    ]


WRITE_NOTE = "echo ok > /res/notes/probe && cat /res/notes/probe"
QUERY = ("sqlite3", "-readonly", "file:/res/shop.db?immutable=1", "SELECT COUNT(*) FROM orders")
CONTROLS: list[Probe] = [
    Probe("read the handbook", "control", ("cat", "/res/handbook/refunds.md"), _printed),
    Probe("write the notes", "control", ("sh", "-c", WRITE_NOTE), _printed),
    Probe("query the dataset", "control", QUERY, _printed),
    Probe("list interfaces", "control", ("ls", "/sys/class/net"), _printed),
]
"""Commands the grants allow: each must work."""
