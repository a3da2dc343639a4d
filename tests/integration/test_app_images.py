"""Images on the real Docker engine: built from Debian's packages, reused by content hash,
and a clear error for a package the archive does not have."""

from __future__ import annotations

import time

import docker
import pytest

from activities.app.images import (
    BASE_REPO,
    ImageBuilder,
    PackageNotFound,
    check_packages,
    content_tag,
    resolve,
)
from tests.workflow.app_support import CACHE


def test_persona_image_is_reused_by_content_hash() -> None:
    builder = ImageBuilder(CACHE)
    first = builder.persona(["jq"])
    started = time.perf_counter()
    assert builder.persona(["jq", "jq"]) == first
    assert time.perf_counter() - started < 5  # found, not rebuilt
    pins = resolve(["jq"])
    assert any(p.startswith("jq=") for p in pins)
    assert any(p.startswith("libjq1=") for p in pins)  # dependencies come along
    assert first.endswith(content_tag([builder.base(), *pins]))
    assert builder.base().startswith(f"{BASE_REPO}:")
    image = docker.from_env().images.get(first)
    assert image.attrs["Config"]["User"] == "10001:10001"
    assert "jq=" in image.labels["persona-app.packages"]
    listed = docker.from_env().containers.run(
        first, ["dpkg", "-l"], network_mode="none", remove=True
    )
    assert any(ln.split()[:2] == ["ii", "jq"] for ln in listed.decode().splitlines())


def test_unknown_package_is_named() -> None:
    with pytest.raises(PackageNotFound, match="package no-such-pkg-zz not found"):
        check_packages(["jq", "no-such-pkg-zz"])
    with pytest.raises(PackageNotFound, match="no-such-pkg-zz"):
        ImageBuilder(CACHE).persona(["no-such-pkg-zz"])


def test_content_tag_depends_on_every_part() -> None:
    assert content_tag(["a", "b"]) == content_tag(["a", "b"])
    assert content_tag(["a", "b"]) != content_tag(["a", "c"])
