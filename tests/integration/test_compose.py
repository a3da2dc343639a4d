"""docker-compose.yml as ``docker-compose config`` (Debian's docker-compose) resolves it: the
Temporal server as Temporal documents self-hosting, one service per worker role, the host
role's image stage, Prometheus and Grafana; the Docker socket mounted into the host service
alone. Nothing is started (no image registry is reachable here)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SOCKET = "/var/run/docker.sock"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    proc = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PERSONAS_APP_JWT_KEYS": '["k"]'},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    config: dict[str, Any] = yaml.safe_load(proc.stdout)
    return config["services"]


def _mounts(service: dict[str, Any]) -> list[str]:
    out = []
    for volume in service.get("volumes", []):
        out.append(volume if isinstance(volume, str) else f"{volume.get('source')}")
    return out


def test_every_role_is_its_own_service_on_the_base_queue(services: dict[str, Any]) -> None:
    for role in ("life", "solver", "host"):
        service = services[f"worker-{role}"]
        assert service["command"][:3] == ["personas-worker", "--role", role]
        assert service["environment"]["PERSONAS_TASK_QUEUE"] == "personas"
        assert service["environment"]["PERSONAS_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert service["environment"]["PERSONAS_METRICS_HOST"] == "0.0.0.0"
    host = services["worker-host"]
    assert host["build"]["target"] == "host"
    assert host["environment"]["PERSONAS_HOST_ID"] == "host-1"
    assert host["environment"]["PERSONAS_FLEET_DRIVER"] == "testbed"
    assert services["worker-life"]["build"]["target"] == "worker"


def test_only_the_host_service_mounts_the_docker_socket(services: dict[str, Any]) -> None:
    with_socket = {name for name, s in services.items() if any(SOCKET in m for m in _mounts(s))}
    assert with_socket == {"worker-host"}


def test_temporal_prometheus_and_grafana_are_there(services: dict[str, Any]) -> None:
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-admin-tools"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["temporal"]["depends_on"]["temporal-admin-tools"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert any("prometheus.yml" in m for m in _mounts(services["prometheus"]))
    assert any("personas.json" in m for m in _mounts(services["grafana"]))


def test_prometheus_scrapes_every_role_on_the_telemetry_ports() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    defaults = Settings.model_fields
    ports = {defaults["sdk_metrics_port"].default, defaults["metrics_port"].default}
    seen = set()
    for job in config["scrape_configs"]:
        for sd in job["dns_sd_configs"]:
            assert set(sd["names"]) == {"worker-life", "worker-solver", "worker-host"}
            seen.add(sd["port"])
    assert seen == ports


def test_the_dockerfile_has_the_host_stage_with_nginx() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "AS worker" in dockerfile
    host_stage = dockerfile.split("AS host", 1)[1]
    assert "nginx" in host_stage
