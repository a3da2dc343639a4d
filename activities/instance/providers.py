"""Resource providers: one interface, a local Docker provider and a cloud adapter.

A provider provisions every replica of an agreed proposal or nothing: on any failure it
removes what it started before raising :class:`ProvisionFailed`. ``key`` (from the workflow)
makes provisioning idempotent: a retry finds the containers it already started.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from typing import Any, Protocol

from activities import ownership
from personas.instance.evolution import Utilisation
from personas.instance.instances import ProvisionedInstance
from personas.instance.proposals import Proposal
from runtime.settings import get_settings

LABEL = "persona.instance"
IMAGE = "persona-instance:local"


class ProvisionFailed(Exception):
    """Provisioning failed and whatever was started has been removed."""


class InstanceProvider(Protocol):
    """What the provisioner needs from a provider."""

    name: str

    def provision(self, key: str, proposal: Proposal) -> ProvisionedInstance:
        """Start every replica of ``proposal`` under ``key``, or nothing."""
        ...

    def deprovision(self, key: str) -> int:
        """Remove everything started under ``key``; returns how many were removed."""
        ...

    def observe(self, key: str) -> Utilisation:
        """Current CPU and memory use of the instance."""
        ...


def _rootfs_tar() -> bytes:
    """A tarball of a minimal root filesystem: ``/bin/sleep`` and the libraries it needs."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    out = subprocess.run(["ldd", sleep], capture_output=True, text=True, check=True).stdout
    libs = [p for line in out.splitlines() for p in line.split() if p.startswith("/")]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(os.path.realpath(sleep), arcname="bin/sleep")
        for lib in libs:
            tar.add(os.path.realpath(lib), arcname=lib.lstrip("/"))
    return buf.getvalue()


class LocalDockerProvider:
    """Runs each replica as a Docker container with CPU and memory limits, network disabled.

    ``cpu_scale`` / ``memory_scale`` map proposal sizes to local limits (the host is smaller
    than a cloud instance); CPUs are capped at the host's count. Every container carries the
    deployment's label (``activities.ownership``; ``deployment`` or ``PERSONAS_DEPLOYMENT_ID``,
    else derived from the process's settings) and, given ``host_id``, its host's; only those
    are found and removed (hosts may share an engine).
    """

    name = "docker"

    def __init__(
        self,
        client: Any = None,
        cpu_scale: float = 1.0,
        memory_scale: float = 1.0,
        image: str = IMAGE,
        deployment: str = "",
        host_id: str | None = None,
    ) -> None:
        """Use ``client`` (a ``docker.DockerClient``; from the environment on first use)."""
        self._client = client
        self._deployment = deployment
        self.host_id = host_id
        self.cpu_scale = cpu_scale
        self.memory_scale = memory_scale
        self.image = image

    @property
    def client(self) -> Any:
        """The Docker client (connected on first use, so a worker starts without Docker)."""
        if self._client is None:
            import docker

            self._client = docker.from_env()
        return self._client

    def ensure_image(self) -> None:
        """Import the minimal image when it is missing (no registry needed)."""
        import docker.errors

        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            repo, tag = self.image.split(":", 1)
            self.client.api.import_image_from_data(
                _rootfs_tar(), repository=repo, tag=tag, changes=['CMD ["/bin/sleep", "86400"]']
            )

    def _limits(self, proposal: Proposal) -> tuple[int, int]:
        host = int(self.client.info().get("NCPU", 1))
        cpus = min(float(host), max(0.01, proposal.vcpu * self.cpu_scale))
        memory = max(6 * 2**20, int(proposal.memory_gib * self.memory_scale * 2**30))
        return int(cpus * 1e9), memory

    @property
    def deployment(self) -> str:
        """The deployment owning this provider's containers."""
        if not self._deployment:
            s = get_settings()
            self._deployment = ownership.resolve(
                "", s.temporal_address, s.temporal_namespace, s.resolved_database_url()
            )
        return self._deployment

    def _containers(self, key: str | None = None) -> list[Any]:
        """This deployment's (and host's) containers of instance ``key``, or of every one."""
        more = [f"{LABEL}={key}" if key is not None else LABEL]
        if self.host_id is not None:
            more.append(f"{ownership.HOST}={self.host_id}")
        owned = ownership.owned_filter(self.deployment, *more)
        return list(self.client.containers.list(all=True, filters=owned))

    def held_keys(self) -> set[str]:
        """The keys of the instances that have containers here."""
        return {c.labels.get(LABEL, "") for c in self._containers()} - {""}

    def provision(self, key: str, proposal: Proposal) -> ProvisionedInstance:
        """Start one container per replica (reusing those a previous attempt started)."""
        try:
            if self.image == IMAGE:
                self.ensure_image()
            nano, memory = self._limits(proposal)
            existing = {c.name: c for c in self._containers(key)}
            handles = []
            for i in range(proposal.replicas):
                name = f"pi-{key}-{i}"
                c = existing.get(name) or self.client.containers.create(
                    self.image,
                    ["/bin/sleep", "86400"],
                    name=name,
                    labels={LABEL: key, **ownership.labels(self.deployment, self.host_id)},
                    nano_cpus=nano,
                    mem_limit=memory,
                    network_mode="none",
                    detach=True,
                )
                c.start()
                handles.append(c.id)
            return ProvisionedInstance(
                key=key,
                provider=self.name,
                handles=tuple(handles),
                nano_cpus=nano,
                memory_bytes=memory,
                network="none",
            )
        except Exception as err:
            self.deprovision(key)
            raise ProvisionFailed(f"docker provisioning of {key} failed: {err}") from err

    def deprovision(self, key: str) -> int:
        """Force-remove every container labelled with ``key``."""
        removed = 0
        for c in self._containers(key):
            c.remove(force=True)
            removed += 1
        return removed

    def observe(self, key: str) -> Utilisation:
        """One stats sample per container, summed."""
        cpu = memory = 0.0
        containers = self._containers(key)
        for c in containers:
            s = c.stats(stream=False)
            cpu_delta = s["cpu_stats"]["cpu_usage"]["total_usage"] - s["precpu_stats"].get(
                "cpu_usage", {}
            ).get("total_usage", 0)
            sys_delta = s["cpu_stats"].get("system_cpu_usage", 0) - s["precpu_stats"].get(
                "system_cpu_usage", 0
            )
            online = s["cpu_stats"].get("online_cpus", 1)
            cpu += cpu_delta / sys_delta * online if sys_delta > 0 else 0.0
            memory += s["memory_stats"].get("usage", 0) / 2**30
        return Utilisation(cpu_cores=cpu, memory_gib=memory, samples=max(1, len(containers)))


class CloudApi(Protocol):
    """The few calls of a cloud SDK the adapter needs (e.g. wrapped boto3 EC2 calls)."""

    def run_instances(self, request: dict[str, Any]) -> list[str]:
        """Launch instances; returns their ids. ``ClientToken`` makes it idempotent."""
        ...

    def find_instances(self, tag_key: str, tag_value: str) -> list[str]:
        """Ids of live instances carrying the tag."""
        ...

    def terminate_instances(self, ids: list[str]) -> None:
        """Terminate instances."""
        ...

    def utilisation(self, ids: list[str]) -> tuple[float, float]:
        """Current CPU cores and memory GiB in use, summed."""
        ...


class CloudProvider:
    """A cloud adapter on the same interface (written, not run here: no cloud reachable)."""

    name = "cloud"

    def __init__(self, api: CloudApi, subnet: str, security_group: str) -> None:
        """Launch into ``subnet`` with ``security_group`` through ``api``."""
        self.api = api
        self.subnet = subnet
        self.security_group = security_group

    def request_for(self, key: str, proposal: Proposal) -> dict[str, Any]:
        """The launch request for a proposal (pure; tested without a cloud)."""
        return {
            "InstanceType": proposal.instance_type.split("@")[0],
            "Placement": {
                "Region": proposal.region,
                "Tenancy": "dedicated" if proposal.tenancy == "dedicated" else "default",
            },
            "MinCount": proposal.replicas,
            "MaxCount": proposal.replicas,
            "ClientToken": key,
            "SubnetId": self.subnet,
            "SecurityGroupIds": [self.security_group],
            "BlockDeviceMappings": [
                {
                    "Storage": proposal.storage,
                    "Raid": proposal.raid,
                    "SizeGb": proposal.storage_gb,
                    "Encrypted": True,
                }
            ],
            "TagSpecifications": [{"Tags": [{"Key": LABEL, "Value": key}]}],
        }

    def provision(self, key: str, proposal: Proposal) -> ProvisionedInstance:
        """Launch all replicas, or terminate what was launched and raise."""
        try:
            ids = self.api.find_instances(LABEL, key) or self.api.run_instances(
                self.request_for(key, proposal)
            )
            if len(ids) != proposal.replicas:
                raise ProvisionFailed(f"{len(ids)} of {proposal.replicas} instances launched")
        except Exception as err:
            self.deprovision(key)
            raise ProvisionFailed(f"cloud provisioning of {key} failed: {err}") from err
        return ProvisionedInstance(
            key=key,
            provider=self.name,
            handles=tuple(ids),
            nano_cpus=int(proposal.vcpu * 1e9),
            memory_bytes=int(proposal.memory_gib * 2**30),
            network="vpc",
        )

    def deprovision(self, key: str) -> int:
        """Terminate every instance tagged with ``key``."""
        ids = self.api.find_instances(LABEL, key)
        if ids:
            self.api.terminate_instances(ids)
        return len(ids)

    def observe(self, key: str) -> Utilisation:
        """Current use of the tagged instances."""
        ids = self.api.find_instances(LABEL, key)
        cpu, memory = self.api.utilisation(ids)
        return Utilisation(cpu_cores=cpu, memory_gib=memory, samples=max(1, len(ids)))
