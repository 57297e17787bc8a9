"""The throwaway FROM scratch image of verify and runtime-baseline shares nothing with other runs.

Concurrent runs on one engine build images of the same program; a cached layer shared between
them was deleted by one run's clean-up while another build was about to use it. The build call is
checked against a recording stand-in for the Docker client (the engine itself is exercised by the
integration tests).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from seccompgen.verify import VERIFY_LABEL, build_scratch_image


class Images:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def build(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class Client:
    def __init__(self) -> None:
        self.images = Images()


def test_no_build_cache_and_no_container_left_on_failure(tmp_path: Path) -> None:
    program = tmp_path / "noop"
    program.write_bytes(b"\x7fELF")
    program.chmod(0o755)
    client = Client()
    tag = build_scratch_image(client, program, "run1", path="/seccompgen-noop")
    (call,) = client.images.calls
    assert call["nocache"] is True and call["forcerm"] is True and call["pull"] is False
    assert call["tag"] == tag == "seccompgen-verify/noop:run1"
    with tarfile.open(fileobj=io.BytesIO(call["fileobj"].getvalue())) as tar:
        dockerfile = tar.extractfile("Dockerfile").read().decode()  # type: ignore[union-attr]
        assert tar.extractfile("app").read() == b"\x7fELF"  # type: ignore[union-attr]
    assert f'LABEL {VERIFY_LABEL}="run1"' in dockerfile
    assert 'ENTRYPOINT ["/seccompgen-noop"]' in dockerfile
