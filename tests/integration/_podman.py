"""Driving Debian's podman for the Kubernetes tests: ``podman kube play`` of a manifest, an
image made from a static binary, and the clean-up that leaves nothing behind (imported as
``_podman``; pytest puts this folder on ``sys.path``).

Everything the tests create carries a run label (``seccompgen-test=<token>``: on the pods through
the manifest's pod template labels, on the image through its tag), so clean-up removes exactly
what this run made, also after a failure or Ctrl-C (``finally`` blocks run on
KeyboardInterrupt). Images that appear during a run and were not there before (podman builds its
``podman-pause`` infra image from catatonit on the first ``kube play``) are removed too.

Measured on podman 4.3.1 (Debian bookworm), which shapes how the tests use it:
- ``kube play`` ignores ``securityContext.seccompProfile``; it applies a Localhost profile only
  from the deprecated annotations ``seccomp.security.alpha.kubernetes.io/pod`` and
  ``container.seccomp.security.alpha.kubernetes.io/<container>`` (``localhost/<file>``), and it
  resolves ``<file>`` as ``--seccomp-profile-root`` joined with the first path component after
  ``localhost/`` only, so the profile must sit directly in that root.
- It gives every container ``nofile``/``nproc`` limits above the hard limits of a root that lacks
  CAP_SYS_RESOURCE (some sandboxes), and runc then fails with "error setting rlimits". The
  containers.conf written here asks for modest limits, which any root may set.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LABEL = "seccompgen-test"
"""The label (pods) and repository prefix (images) of everything a test run creates."""

_CONTAINERS_CONF = """\
# Written by the seccompgen tests: limits any root may set (see tests/integration/_podman.py).
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
"""


class PodmanError(AssertionError):
    """A podman command failed; the message holds its command line and output."""


class Podman:
    """The podman CLI with this run's token, containers.conf and clean-up."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("podman")
        if exe is None:
            raise PodmanError("podman is not on PATH")
        self.exe = exe
        self.token = uuid.uuid4().hex[:12]
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "containers.conf"
        conf.write_text(_CONTAINERS_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.images_before = set(self.image_ids())

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        """``podman ARGS`` from ``workdir`` (``kube play`` builds an image when a directory named
        like it is in the working directory; ``workdir`` holds none)."""
        proc = subprocess.run(
            [self.exe, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
            )
        return proc.stdout + proc.stderr

    def image_ids(self) -> list[str]:
        out = self.run("images", "--quiet", "--no-trunc")
        return [line for line in out.split() if line]

    def import_binary(self, binary: Path, name: str) -> str:
        """A ``FROM scratch`` image holding ``binary`` as ``/app``, its ENTRYPOINT; returns its
        reference (``localhost/seccompgen-test-<name>:<token>``)."""
        layer = self.workdir / f"{name}.tar"
        root = self.workdir / f"{name}-root"
        root.mkdir(exist_ok=True)
        shutil.copy2(binary, root / "app")
        subprocess.run(["tar", "-C", str(root), "-cf", str(layer), "app"], check=True)
        ref = f"localhost/{LABEL}-{name}:{self.token}"
        self.run("import", "--change", 'ENTRYPOINT ["/app"]', str(layer), ref)
        return ref

    def pods(self) -> list[str]:
        """Pods of this run (by label), running or not."""
        out = self.run(
            "pod", "ps", "--quiet", "--no-trunc", "--filter", f"label={LABEL}={self.token}"
        )
        return out.split()

    def containers(self) -> list[dict[str, Any]]:
        """Containers of this run's pods, with podman's inspect data."""
        ids = self.run(
            "ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={LABEL}={self.token}"
        ).split()
        if not ids:
            return []
        # inspect races a container that is exiting ("read /proc/PID/cgroup: no such process"):
        # ask again.
        for attempt in range(20):
            try:
                data: list[dict[str, Any]] = json.loads(self.run("inspect", *ids))
                return data
            except PodmanError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def played(self, manifest: Path, seccomp_root: Path) -> Iterator[str]:
        """``podman kube play`` of ``manifest`` while the block runs, ``kube down`` and removal of
        this run's pods after it (also on an error or KeyboardInterrupt). Yields play's output."""
        try:
            # runc, as the profile's runtime block (emit --runtime auto reads Docker's default):
            # with crun installed podman would default to it, and crun's init needs calls
            # runc's block lacks ("crun: cannot setresgid to 0").
            yield self.run(
                "--runtime", "runc", "kube", "play",
                "--seccomp-profile-root", str(seccomp_root), str(manifest),
            )  # fmt: skip
        finally:
            self.run("kube", "down", str(manifest), check=False)
            for pod in self.pods():
                self.run("pod", "rm", "--force", pod, check=False)

    def cleanup(self) -> None:
        """Remove this run's pods and the images that appeared since it started."""
        for pod in self.pods():
            self.run("pod", "rm", "--force", pod, check=False)
        for image in self.image_ids():
            if image not in self.images_before:
                self.run("rmi", "--force", image, check=False)

    def leftovers(self) -> list[str]:
        """What this run left behind: its pods and containers, images that were not there."""
        left = [f"pod {p}" for p in self.pods()]
        left += [f"container {c['Id'][:12]}" for c in self.containers()]
        left += [f"image {i[:19]}" for i in self.image_ids() if i not in self.images_before]
        return left

    def wait_failed(self, name_part: str, timeout: float = 30) -> dict[str, Any]:
        """Inspect data of this run's container whose name contains ``name_part`` once it has
        failed: exited non-zero, or restarted (a Deployment's pods restart always)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.containers() if name_part in c["Name"]]
            if found:
                state, restarts = found[0]["State"], found[0].get("RestartCount", 0)
                if restarts or (state["Status"] == "exited" and state["ExitCode"] != 0):
                    return found[0]
            if time.monotonic() > deadline:
                raise PodmanError(f"no failed container named like {name_part!r}: {found}")
            time.sleep(0.2)
