"""The built-in HTTP prober against real loopback servers: a Python one in a thread, and the
example Go service (examples/httpservice) run natively, without a tracer."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from seccompgen.exercise.prober import (
    ProbeError,
    exercise_command,
    main,
    parse_target,
    probe_urls,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Go's net/http serves it
    hits: ClassVar[dict[str, int]] = {}
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.hits[self.path] = self.hits.get(self.path, 0) + 1
        code = 404 if self.path.startswith("/missing") else 200
        body = b"ok\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(port: int) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def server() -> Iterator[int]:
    _Handler.hits = {}
    srv = _serve(0)
    try:
        yield int(srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://example.com/",
        "http://[2001:db8::1]:80/",
        "http://0.0.0.0:8080/",
    ],
)
def test_non_loopback_hosts_are_refused_without_a_lookup(url: str) -> None:
    with pytest.raises(ProbeError, match="not on loopback"):
        parse_target(url)


@pytest.mark.parametrize(
    ("url", "host", "port", "path"),
    [
        ("http://127.0.0.1:8080/healthz", "127.0.0.1", 8080, "/healthz"),
        ("http://127.1.2.3/", "127.1.2.3", 80, "/"),
        ("http://[::1]:9/a?b=1", "::1", 9, "/a?b=1"),
        ("https://localhost", "localhost", 443, "/"),
    ],
)
def test_loopback_urls_are_accepted(url: str, host: str, port: int, path: str) -> None:
    t = parse_target(url)
    assert (t.host, t.port, t.path) == (host, port, path)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:80", "http:///x"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ProbeError):
        parse_target(url)


def test_counts_per_url_and_status(server: int) -> None:
    ok, missing = f"http://127.0.0.1:{server}/ok", f"http://127.0.0.1:{server}/missing"
    result = probe_urls([ok, missing], requests=7, concurrency=3)
    assert [u.url for u in result.urls] == [ok, missing]
    assert result.urls[0].statuses == ((200, 7),)
    assert result.urls[1].statuses == ((404, 7),)
    assert result.total == 14 and result.errors == 0
    assert _Handler.hits == {"/ok": 7, "/missing": 7}


def test_duration_bounds_the_run(server: int) -> None:
    start = time.monotonic()
    result = probe_urls([f"http://127.0.0.1:{server}/"], duration=0.5, concurrency=2)
    took = time.monotonic() - start
    assert 0.5 <= took < 3.0
    assert result.total > 2 and result.errors == 0
    assert sum(_Handler.hits.values()) == result.total


def test_requests_end_a_duration_run_early(server: int) -> None:
    result = probe_urls([f"http://127.0.0.1:{server}/"], requests=3, duration=30)
    assert result.total == 3 and result.elapsed < 10


def test_waits_for_a_service_that_starts_late() -> None:
    port = free_port()
    later: list[http.server.ThreadingHTTPServer] = []
    timer = threading.Timer(0.6, lambda: later.append(_serve(port)))
    timer.start()
    try:
        result = probe_urls([f"http://127.0.0.1:{port}/late"], requests=2, ready_timeout=10)
    finally:
        timer.join()
        for s in later:
            s.shutdown()
            s.server_close()
    assert result.urls[0].statuses == ((200, 2),)


def test_gives_up_on_a_service_that_never_starts() -> None:
    port = free_port()
    start = time.monotonic()
    with pytest.raises(ProbeError, match=f"127.0.0.1:{port} within 0.5 s"):
        probe_urls([f"http://127.0.0.1:{port}/"], ready_timeout=0.5)
    assert time.monotonic() - start < 3


@pytest.mark.parametrize("kwargs", [{"requests": 0}, {"duration": 0.0}, {"concurrency": 0}])
def test_bad_counts_are_refused(server: int, kwargs: dict[str, float]) -> None:
    with pytest.raises(ProbeError):
        probe_urls([f"http://127.0.0.1:{server}/"], **kwargs)  # type: ignore[arg-type]
    assert _Handler.hits == {}


def test_the_exercise_command_runs_the_module(server: int) -> None:
    url = f"http://127.0.0.1:{server}/x?a=1&b=2"
    cmd = exercise_command([url], requests=4, concurrency=2)
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"{url}: 4 request(s); 200: 4" in proc.stdout
    assert _Handler.hits == {"/x?a=1&b=2": 4}
    with pytest.raises(ProbeError):
        exercise_command(["http://192.0.2.1/"])


def test_main_exit_status_and_error_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http://192.0.2.1/"]) == 1
    assert "not on loopback" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2


@pytest.mark.go
def test_against_the_example_service(build_example: Callable[[str], Path], tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "service.log"
    with log.open("w") as err:
        # Started after the prober, so the readiness retry is part of what is tested.
        base = f"http://127.0.0.1:{port}"
        prober = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seccompgen.exercise.prober",
                "-n",
                "2",
                f"{base}/healthz",
                f"{base}/debug/pprof/profile?seconds=1",
                f"{base}/nope",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.3)
        service = subprocess.Popen(
            [build_example("httpservice"), "-addr", f"127.0.0.1:{port}"], stderr=err
        )
        try:
            out, _ = prober.communicate(timeout=60)
        finally:
            service.terminate()
            service.wait(timeout=15)
    assert prober.returncode == 0, out
    # One request at a time: net/http/pprof answers 500 to a second concurrent CPU profile.
    assert f"{base}/healthz: 2 request(s); 200: 2" in out
    assert f"{base}/debug/pprof/profile?seconds=1: 2 request(s); 200: 2" in out
    assert f"{base}/nope: 2 request(s); 404: 2" in out
    logged = [json.loads(line)["msg"] for line in log.read_text().splitlines()]
    assert logged[0] == "listening" and "stopped" in logged
