"""A built-in HTTP prober: the exercise of a trace for services that speak HTTP on loopback.

``seccompgen trace ./app --probe http://127.0.0.1:8080/healthz`` needs no load generator: this
module sends the requests, with Python's standard library only (:mod:`http.client` and threads),
so the traced service sees real connections, keep-alive requests and concurrent handlers.

- Only loopback targets (``127.0.0.0/8``, ``::1``, ``localhost``) are accepted: an exercise
  drives the program being traced on this machine, never another host.
- The service may still be starting: connection refused is retried (every 50 ms, doubling up to
  0.5 s) until ``ready_timeout`` seconds have passed, then the probe fails with a clear error.
- ``requests`` per URL, or ``duration`` seconds of round-robin requests over the URLs, or both
  (whichever ends first); with neither, one request per URL. ``concurrency`` threads share the
  work, each with its own keep-alive connection per host.

``python -m seccompgen.exercise.prober URL...`` runs the same thing as a command, so it can be
given to ``--exercise`` (:func:`exercise_command` builds that string).
"""

from __future__ import annotations

import argparse
import errno
import http.client
import ipaddress
import shlex
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from seccompgen.errors import TracerError

__all__ = ["ProbeError", "ProbeResult", "UrlResult", "exercise_command", "main", "probe_urls"]

_RETRY_FIRST: Final = 0.05  # seconds before the first retry of a refused connection
_RETRY_MAX: Final = 0.5
_USER_AGENT: Final = "seccompgen-prober"


class ProbeError(TracerError):
    """The probe could not run: a bad or non-loopback URL, or a service that never answered."""


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    https: bool
    host: str
    port: int
    path: str


@dataclass(frozen=True, slots=True)
class UrlResult:
    """What one URL answered: ``statuses`` maps each HTTP status code to how many responses had
    it (sorted by code); ``errors`` counts requests that got no response (reset, timeout), with
    the first such error's text in ``first_error``."""

    url: str
    requests: int
    statuses: tuple[tuple[int, int], ...]
    errors: int
    first_error: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The whole probe: one :class:`UrlResult` per URL, in the order given, and the seconds it
    took from the first request (after the service was ready) to the last response."""

    urls: tuple[UrlResult, ...]
    elapsed: float

    @property
    def total(self) -> int:
        """Requests sent over every URL."""
        return sum(u.requests for u in self.urls)

    @property
    def errors(self) -> int:
        """Requests without a response over every URL."""
        return sum(u.errors for u in self.urls)


def parse_target(url: str) -> _Target:
    """Check ``url`` is an ``http``/``https`` URL on a loopback address; raise :class:`ProbeError`
    otherwise. Host names other than ``localhost`` are refused without being resolved."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ProbeError(
            f"probe URL {url!r} is not http or https",
            hint="give a URL like http://127.0.0.1:8080/healthz",
        )
    host = parts.hostname
    if not host:
        raise ProbeError(f"probe URL {url!r} has no host", hint="use http://127.0.0.1:PORT/PATH")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ProbeError(
                f"probe URL {url!r} is not on loopback ({host})",
                hint="the prober only exercises a program traced on this machine: use 127.0.0.1, "
                "::1 or localhost (and --network host for a container)",
            )
    try:
        port = parts.port
    except ValueError as e:
        raise ProbeError(f"probe URL {url!r} has a bad port: {e}") from e
    https = parts.scheme == "https"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(url, https, host, port or (443 if https else 80), path)


def _connection(t: _Target, timeout: float) -> http.client.HTTPConnection:
    if t.https:
        import ssl

        # Loopback services usually have self-signed certificates; the prober exercises code
        # paths, it does not authenticate the server.
        ctx = ssl._create_unverified_context()
        return http.client.HTTPSConnection(t.host, t.port, timeout=timeout, context=ctx)
    return http.client.HTTPConnection(t.host, t.port, timeout=timeout)


def _refused(e: BaseException) -> bool:
    return isinstance(e, ConnectionRefusedError) or (
        isinstance(e, OSError) and e.errno in (errno.ECONNREFUSED, errno.ECONNRESET)
    )


def wait_ready(targets: Sequence[_Target], ready_timeout: float) -> None:
    """Connect to each distinct host and port until it accepts, retrying refusals with backoff;
    :class:`ProbeError` when one has not accepted within ``ready_timeout`` seconds."""
    deadline = time.monotonic() + ready_timeout
    for host, port in dict.fromkeys((t.host, t.port) for t in targets):
        delay = _RETRY_FIRST
        while True:
            try:
                socket.create_connection((host, port), timeout=max(0.1, ready_timeout)).close()
                break
            except OSError as e:
                if not _refused(e) or time.monotonic() + delay > deadline:
                    raise ProbeError(
                        f"no service accepted connections on {host}:{port} within "
                        f"{ready_timeout:g} s ({e})",
                        hint="check the service's listen address, or give it longer to start",
                    ) from e
            time.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)


class _Work:
    """The shared queue of requests: a request count per URL, a deadline, or both."""

    def __init__(self, n_urls: int, requests: int | None, deadline: float | None) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._limit = None if requests is None else requests * n_urls
        self._n = n_urls
        self._deadline = deadline

    def take(self) -> int | None:
        with self._lock:
            if self._limit is not None and self._next >= self._limit:
                return None
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return None
            i = self._next % self._n
            self._next += 1
            return i


class _Tally:
    def __init__(self, n_urls: int) -> None:
        self._lock = threading.Lock()
        self.requests = [0] * n_urls
        self.statuses: list[dict[int, int]] = [{} for _ in range(n_urls)]
        self.errors = [0] * n_urls
        self.first_error: list[str | None] = [None] * n_urls

    def status(self, i: int, code: int) -> None:
        with self._lock:
            self.requests[i] += 1
            self.statuses[i][code] = self.statuses[i].get(code, 0) + 1

    def error(self, i: int, e: BaseException) -> None:
        with self._lock:
            self.requests[i] += 1
            self.errors[i] += 1
            if self.first_error[i] is None:
                self.first_error[i] = f"{type(e).__name__}: {e}"


def _worker(targets: Sequence[_Target], work: _Work, tally: _Tally, timeout: float) -> None:
    conns: dict[tuple[str, int, bool], http.client.HTTPConnection] = {}
    try:
        while (i := work.take()) is not None:
            t = targets[i]
            key = (t.host, t.port, t.https)
            for attempt in (0, 1):
                conn = conns.get(key)
                if conn is None:
                    conn = conns[key] = _connection(t, timeout)
                try:
                    conn.request("GET", t.path, headers={"User-Agent": _USER_AGENT})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.will_close:
                        conn.close()
                        del conns[key]
                    tally.status(i, resp.status)
                    break
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    del conns[key]
                    # A kept-alive connection the server closed between requests fails once;
                    # one retry on a fresh connection tells that apart from a real failure.
                    if attempt == 1 or not isinstance(
                        e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
                    ):
                        tally.error(i, e)
                        break
    finally:
        for conn in conns.values():
            conn.close()


def probe_urls(
    urls: Sequence[str],
    *,
    requests: int | None = None,
    duration: float | None = None,
    concurrency: int = 1,
    ready_timeout: float = 10.0,
    request_timeout: float = 60.0,
) -> ProbeResult:
    """Send GET requests to ``urls`` (loopback only) and count the answers; see the module
    docstring for the rules. Raises :class:`ProbeError` for a bad URL, bad counts, or a service
    that did not accept connections within ``ready_timeout`` seconds. Failed requests are
    counted in the result, not raised."""
    if not urls:
        raise ProbeError("no URL to probe", hint="give at least one http://127.0.0.1:PORT/PATH")
    if requests is not None and requests < 1:
        raise ProbeError(f"requests must be at least 1, not {requests}")
    if duration is not None and duration <= 0:
        raise ProbeError(f"duration must be positive, not {duration:g}")
    if concurrency < 1:
        raise ProbeError(f"concurrency must be at least 1, not {concurrency}")
    targets = [parse_target(u) for u in urls]
    if requests is None and duration is None:
        requests = 1
    wait_ready(targets, ready_timeout)
    start = time.monotonic()
    work = _Work(len(targets), requests, None if duration is None else start + duration)
    tally = _Tally(len(targets))
    threads = [
        threading.Thread(target=_worker, args=(targets, work, tally, request_timeout), daemon=True)
        for _ in range(concurrency)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - start
    return ProbeResult(
        urls=tuple(
            UrlResult(
                url=t.url,
                requests=tally.requests[i],
                statuses=tuple(sorted(tally.statuses[i].items())),
                errors=tally.errors[i],
                first_error=tally.first_error[i],
            )
            for i, t in enumerate(targets)
        ),
        elapsed=elapsed,
    )


def render(result: ProbeResult) -> str:
    """One line per URL: requests, status counts, errors; then the total."""
    lines = []
    for u in result.urls:
        codes = ", ".join(f"{code}: {n}" for code, n in u.statuses) or "no response"
        line = f"{u.url}: {u.requests} request(s); {codes}"
        if u.errors:
            line += f"; {u.errors} error(s), first: {u.first_error}"
        lines.append(line)
    lines.append(f"{result.total} request(s) in {result.elapsed:.2f} s, {result.errors} error(s)")
    return "\n".join(lines) + "\n"


def exercise_command(
    urls: Sequence[str],
    *,
    requests: int | None = None,
    duration: float | None = None,
    concurrency: int = 1,
) -> str:
    """The shell command (for ``TraceRequest.exercise``) that runs this prober on ``urls`` with
    the running Python; the URLs are checked here, so a bad one fails before tracing starts."""
    for u in urls:
        parse_target(u)
    argv = [sys.executable, "-m", "seccompgen.exercise.prober"]
    if requests is not None:
        argv += ["--requests", str(requests)]
    if duration is not None:
        argv += ["--duration", repr(duration)]
    argv += ["--concurrency", str(concurrency), "--", *urls]
    return shlex.join(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m seccompgen.exercise.prober``: exit 0 when every request got a response (any
    status), 1 when one did not or the probe could not run, 2 for bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m seccompgen.exercise.prober",
        description="Send GET requests to HTTP services on loopback and count the answers.",
    )
    parser.add_argument("urls", nargs="+", metavar="URL", help="http://127.0.0.1:PORT/PATH")
    parser.add_argument("-n", "--requests", type=int, help="requests per URL (default 1)")
    parser.add_argument("-d", "--duration", type=float, help="seconds of requests")
    parser.add_argument("-c", "--concurrency", type=int, default=1, help="parallel requests")
    parser.add_argument(
        "--ready-timeout", type=float, default=10.0, help="seconds to wait for the service"
    )
    args = parser.parse_args(argv)
    try:
        result = probe_urls(
            args.urls,
            requests=args.requests,
            duration=args.duration,
            concurrency=args.concurrency,
            ready_timeout=args.ready_timeout,
        )
    except ProbeError as e:
        print(f"prober: {e.explain()}", file=sys.stderr)
        return 1
    sys.stdout.write(render(result))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
