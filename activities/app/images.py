"""Images: a base image imported from a rootfs built from Debian's packages, and a persona
image per set of applications: apt resolves the dependency closure and downloads it, dpkg
unpacks each package and the image's dpkg database records it as installed (maintainer
scripts are not run: the root file system is read-only at run time). Tagged by the
content hash of (base, resolved package versions) so each set is built once and reused.

Everything runs on the host (which reaches Debian's archive); containers never need a network.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors

BASE_PACKAGES = ("busybox-static",)
LAYOUT_VERSION = "3"
APP_UID = 10001
BASE_REPO = "persona-app-base"
PERSONA_REPO = "persona-app"
LABEL = "persona-app.image"
PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


class ImageError(Exception):
    """An image could not be built; the message is one clear line."""


class PackageNotFound(ImageError):
    """A required application is not in the package manager's archive."""


def _run(args: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ImageError(f"{' '.join(args[:3])} failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout


_KNOWN: dict[tuple[str, str], str | None] = {}


def candidates(names: list[str]) -> dict[str, str]:
    """Installable candidate versions apt knows for ``names`` (unknown or virtual: absent).

    Remembered per name until apt's package lists change.
    """
    stamp = _lists_stamp()
    todo = [n for n in names if (stamp, n) not in _KNOWN]
    if todo:
        fresh = _apt_policy(todo)
        for n in todo:
            _KNOWN[(stamp, n)] = fresh.get(n)
    return {n: v for n in names if (v := _KNOWN[(stamp, n)]) is not None}


def _apt_policy(names: list[str]) -> dict[str, str]:
    proc = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True)
    found: dict[str, str] = {}
    name = ""
    for ln in proc.stdout.splitlines():
        if ln and not ln[0].isspace() and ln.endswith(":"):
            name = ln[:-1]
        elif ln.strip().startswith("Candidate:") and name:
            version = ln.split(":", 1)[1].strip()
            if version != "(none)":
                found[name] = version
    return found


def check_packages(names: list[str]) -> dict[str, str]:
    """Candidate versions of ``names``; PackageNotFound names the first one apt lacks."""
    found = candidates(names)
    for name in names:
        if name not in found:
            raise PackageNotFound(f"package {name} not found in the package manager's archive")
    return found


def _lists_stamp() -> str:
    lists = Path("/var/lib/apt/lists")
    return str(max((p.stat().st_mtime_ns for p in lists.iterdir()), default=0))


_RESOLVED: dict[tuple[str, ...], list[str]] = {}


def resolve(names: list[str], cache: Path | None = None) -> list[str]:
    """``name=version`` of the packages and their dependency closure, sorted.

    Remembered per set of names until apt's package lists change (in memory and in ``cache``).
    """
    key = (_lists_stamp(), *sorted(set(names)))
    if key in _RESOLVED:
        return _RESOLVED[key]
    memo = cache / "resolved" / f"{content_tag(list(key))}.json" if cache else None
    if memo is not None and memo.exists():
        pins: list[str] = json.loads(memo.read_text())
        _RESOLVED[key] = pins
        return pins
    check_packages(names)
    out = _run(
        [
            "apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
            "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *names,
        ]
    )  # fmt: skip
    closure = sorted({ln.strip() for ln in out.splitlines() if ln and not ln[0].isspace()})
    found = candidates([n for n in closure if not n.startswith("<")])
    pins = sorted(f"{n}={v}" for n, v in found.items())
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps(pins))
    _RESOLVED[key] = pins
    return pins


def content_tag(parts: list[str]) -> str:
    """A short content hash of the parts that define an image."""
    return hashlib.sha256("\n".join([LAYOUT_VERSION, *parts]).encode()).hexdigest()[:16]


@contextmanager
def _lock(cache: Path, name: str) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download_and_unpack(pins: list[str], root: Path, cache: Path) -> None:
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in pins if not list(debs.glob(_deb_glob(p)))]
    if missing:
        _run(["apt-get", "download", "-q", *missing], cwd=debs)
    for pin in pins:
        matches = sorted(debs.glob(_deb_glob(pin)))
        if not matches:
            raise ImageError(f"apt-get did not download {pin}")
        _run(["dpkg-deb", "-x", str(matches[0]), str(root)])
        _register(root, str(matches[0]))


def _register(root: Path, deb: str) -> None:
    """Record the unpacked package in the image's dpkg database (``dpkg -l`` lists it)."""
    control = _run(["dpkg-deb", "-f", deb]).rstrip("\n").splitlines()
    fields = [ln for ln in control if not ln.startswith("Status:")]
    name = next(ln for ln in fields if ln.startswith("Package:"))
    entry = [name, "Status: install ok installed", *[f for f in fields if f != name]]
    status = root / "var" / "lib" / "dpkg" / "status"
    status.parent.mkdir(parents=True, exist_ok=True)
    with status.open("a") as fh:
        fh.write("\n".join(entry) + "\n\n")


def _deb_glob(pin: str) -> str:
    name, version = pin.split("=", 1)
    return f"{name}_{version.replace(':', '%3a')}_*.deb"


def _base_files(root: Path) -> None:
    for d in ("bin", "etc", "tmp", "home/app", "workspace", "config", "data", "proc", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    busybox = root / "bin" / "busybox"
    applets = _run([str(busybox), "--list"]).split()
    for applet in applets:
        link = root / "bin" / applet
        if not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")
    (root / "etc" / "passwd").write_text(
        f"root:x:0:0:root:/root:/bin/sh\napp:x:{APP_UID}:{APP_UID}:app:/home/app:/bin/sh\n"
    )
    (root / "etc" / "group").write_text(f"root:x:0:\napp:x:{APP_UID}:\n")


def _owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    owned = info.name in ("workspace", "home/app") or info.name.startswith("home/app/")
    info.uid = info.gid = APP_UID if owned else 0
    info.uname = info.gname = ""
    if info.name == "tmp":
        info.mode = 0o1777
    return info


def _import(client: Any, root: Path, repo: str, tag: str, labels: dict[str, str]) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name, filter=_owner)
    changes = [
        f"USER {APP_UID}:{APP_UID}",
        "WORKDIR /workspace",
        f"ENV PATH={PATH}",
        *(f"LABEL {k}={v}" for k, v in labels.items()),
    ]
    client.api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag, changes=changes)
    return f"{repo}:{tag}"


def _exists(client: Any, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


class ImageBuilder:
    """Builds (once) and finds the base image and the persona images, by content hash."""

    def __init__(self, cache_dir: Path, client: Any | None = None) -> None:
        """Keep downloaded packages and locks under ``cache_dir``."""
        self.cache = cache_dir
        self._client = client
        self.labels: dict[str, str] = {}
        """Extra labels of the images this builds (the building deployment's ownership label;
        images are shared by content, so the label names who built one, not who uses it)."""

    @property
    def client(self) -> Any:
        """The Docker client (created on first use)."""
        if self._client is None:
            self._client = docker.from_env()
        return self._client

    def base(self) -> str:
        """The base image's reference, built from Debian's busybox-static when missing."""
        pins = resolve(list(BASE_PACKAGES), self.cache)
        ref = f"{BASE_REPO}:{content_tag(pins)}"
        with _lock(self.cache, "base"):
            if _exists(self.client, ref):
                return ref
            with tempfile.TemporaryDirectory(dir=self.cache) as tmp:
                root = Path(tmp) / "root"
                _download_and_unpack(pins, root, self.cache)
                _base_files(root)
                self._keep_rootfs(root, ref)
                return _import(
                    self.client, root, BASE_REPO, ref.split(":")[1], {LABEL: "base", **self.labels}
                )

    def persona(self, applications: list[str]) -> str:
        """The image with ``applications`` installed; PackageNotFound names a missing one."""
        base = self.base()
        if not applications:
            return base
        pins = resolve(sorted(set(applications)), self.cache)
        tag = content_tag([base, *pins])
        ref = f"{PERSONA_REPO}:{tag}"
        with _lock(self.cache, tag):
            if _exists(self.client, ref):
                return ref
            with tempfile.TemporaryDirectory(dir=self.cache) as tmp:
                root = Path(tmp) / "root"
                shutil.copytree(self._rootfs(base), root, symlinks=True)
                _download_and_unpack(pins, root, self.cache)
                labels = {
                    LABEL: "persona",
                    "persona-app.packages": ",".join(pins)[:4000],
                    **self.labels,
                }
                return _import(self.client, root, PERSONA_REPO, tag, labels)

    def _rootfs_dir(self, ref: str) -> Path:
        return self.cache / "rootfs" / ref.replace(":", "_")

    def _keep_rootfs(self, root: Path, ref: str) -> None:
        dest = self._rootfs_dir(ref)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(root, dest, symlinks=True)

    def _rootfs(self, base: str) -> Path:
        dest = self._rootfs_dir(base)
        if not dest.exists():
            with tempfile.TemporaryDirectory(dir=self.cache) as tmp:
                root = Path(tmp) / "root"
                _download_and_unpack(resolve(list(BASE_PACKAGES), self.cache), root, self.cache)
                _base_files(root)
                self._keep_rootfs(root, base)
        return dest
