"""The tracer image: its content tag, and a real build on the local base image."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from seccompgen.containers.image import (
    TRACER_REPOSITORY,
    ensure_tracer_image,
    project_root,
    prune_tracer_images,
    runtime_pins,
    tracer_context_files,
    tracer_image_tag,
)
from seccompgen.errors import TracerError


def test_tag_is_stable_for_unchanged_content() -> None:
    root = project_root()
    first = tracer_image_tag(tracer_context_files(root), base="sha256:abc")
    again = tracer_image_tag(tracer_context_files(root), base="sha256:abc")
    assert first == again
    assert first.startswith("seccompgen/tracer:")


def test_tag_changes_with_the_dockerfile_the_sources_and_the_base() -> None:
    files = tracer_context_files(project_root())
    tag = tracer_image_tag(files, base="b")
    edited = dict(files, **{"Dockerfile.tracer": files["Dockerfile.tracer"] + b"# edit\n"})
    assert tracer_image_tag(edited, base="b") != tag
    source = next(p for p in files if p.startswith("seccompgen/") and p.endswith(".py"))
    assert tracer_image_tag(dict(files, **{source: files[source] + b"\n"}), base="b") != tag
    assert tracer_image_tag(files, base="other") != tag
    # Moving bytes from one file's end to the next one's start is a different file set.
    a, b = sorted(files)[:2]
    moved = dict(files, **{a: files[a] + files[b][:1], b: files[b][1:]})
    assert tracer_image_tag(moved, base="b") != tag


def test_context_pins_the_runtime_dependencies_installed_here() -> None:
    files = tracer_context_files(project_root())
    assert "Dockerfile.tracer" in files
    assert "seccompgen/__init__.py" in files
    assert not any("__pycache__" in p for p in files)
    pins = runtime_pins(project_root())
    names = {p.split("==")[0] for p in pins}
    # Direct dependencies, the ptrace extra and a transitive one (jsonschema -> referencing).
    assert {"click", "networkx", "jsonschema", "python-ptrace", "referencing"} <= names
    assert "pytest" not in names
    assert files["constraints.txt"].decode().splitlines() == pins


@pytest.mark.docker
def test_missing_base_image_is_a_clear_error(docker_client: Any) -> None:
    with pytest.raises(TracerError) as err:
        ensure_tracer_image(docker_client, "seccompgen-test/no-such-base:0")
    assert "never pulls" in err.value.message
    assert "build-base-image.sh" in (err.value.hint or "")


@pytest.mark.docker
@pytest.mark.slow
def test_tracer_image_builds_and_runs_strace(
    docker_client: Any, base_image: str, run_in_container: Any
) -> None:
    lines: list[str] = []
    tag = ensure_tracer_image(docker_client, base_image, lines.append)
    assert tag == tracer_image_tag(
        tracer_context_files(project_root()), base=docker_client.images.get(base_image).id
    )
    result = run_in_container(tag, ["strace", "-V"])
    assert result.status == 0, result
    assert result.stdout.startswith("strace -- version "), result
    check = "import ptrace, seccompgen; print(seccompgen.__name__)"
    result = run_in_container(tag, ["python", "-c", check])
    assert (result.status, result.stdout.strip()) == (0, "seccompgen"), result

    # A second call finds the image by its content tag and builds nothing.
    again: list[str] = []
    assert ensure_tracer_image(docker_client, base_image, again.append) == tag
    assert again == [f"reusing {tag}"]


@pytest.mark.docker
def test_prune_removes_older_tracer_images_but_not_one_in_use(
    docker_client: Any, base_image: str
) -> None:
    import io
    import uuid

    run = uuid.uuid4().hex[:8]

    def image(label: str, tag: str) -> str:
        dockerfile = f"FROM {base_image}\nLABEL io.seccompgen.test={label}\n".encode()
        # rm and forcerm: the build's intermediate container goes too (the SDK keeps it by default)
        img, _ = docker_client.images.build(
            fileobj=io.BytesIO(dockerfile), tag=tag, pull=False, rm=True, forcerm=True
        )
        return str(img.id)

    current = f"{TRACER_REPOSITORY}:test-current-{run}"
    stale = f"{TRACER_REPOSITORY}:test-stale-{run}"
    used = f"{TRACER_REPOSITORY}:test-used-{run}"
    image(f"current-{run}", current)
    image(f"stale-{run}", stale)
    image(f"used-{run}", used)
    container = docker_client.containers.create(used, ["true"], network_mode="none")
    try:
        removed = prune_tracer_images(docker_client, keep=current)
        assert stale in removed
        assert current not in removed and used not in removed
        tags = {t for i in docker_client.images.list(name=TRACER_REPOSITORY) for t in i.tags}
        assert current in tags and used in tags and stale not in tags
        assert docker_client.images.get(base_image)  # another repository: untouched
    finally:
        container.remove(force=True)
        for tag in (current, stale, used):
            with contextlib.suppress(Exception):
                docker_client.images.remove(tag, force=True)
