"""Exercises of the corpus services, run on the host against 127.0.0.1 (standard library only).

Run as a program: ``python exercise.py KIND ARGS...``; exit status 0 when the service did what
was asked and answered with the expected content, 1 (with the reason on stderr) otherwise.
Connection refused and 503 are retried until ``--wait`` seconds have passed, as a service takes
a moment to listen (all the more under strace). Only loopback URLs are accepted.

- ``get URL TEXT``: GET URL must answer 200 with TEXT in the body.
- ``prometheus BASE JOB``: Prometheus must report itself ready and have scraped the target of
  scrape job JOB (the query ``up{job="JOB"}`` answers 1).
- ``alertmanager BASE NAME``: an alert named NAME is posted through the v2 API and must then be
  listed by it.
- ``etcd BASE KEY VALUE``: KEY is put and read back through etcd's v3 HTTP gateway.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

WAIT = 60.0


class ExerciseFailed(Exception):
    """The service answered, but not what was expected."""


def _check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"exercise: {url} is not a loopback URL")


def request(url: str, body: Any = None, *, method: str | None = None) -> tuple[int, bytes]:
    """One HTTP request (JSON body when given); the status and body, errors included."""
    _check_loopback(url)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def until(what: str, attempt: Callable[[], str | None], wait: float = WAIT) -> None:
    """Call ``attempt`` until it returns None (done); it returns why not yet, or raises
    ``ExerciseFailed``. Connection errors count as not yet."""
    deadline = time.monotonic() + wait
    why = "no attempt"
    while True:
        try:
            result = attempt()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            result = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        if result is None:
            return
        why = result
        if time.monotonic() >= deadline:
            raise ExerciseFailed(f"{what}: still not done after {wait:g}s ({why})")
        time.sleep(0.2)


def get(url: str, text: str) -> None:
    def attempt() -> str | None:
        status, body = request(url)
        if status != 200:
            return f"status {status}"
        if text not in body.decode("utf-8", "replace"):
            raise ExerciseFailed(f"GET {url}: 200, but {text!r} is not in the body")
        return None

    until(f"GET {url}", attempt)


def prometheus(base: str, job: str) -> None:
    get(f"{base}/-/ready", "Ready")
    query = urllib.parse.urlencode({"query": f'up{{job="{job}"}}'})

    def scraped() -> str | None:
        status, body = request(f"{base}/api/v1/query?{query}")
        if status != 200:
            return f"status {status}"
        answer = json.loads(body)
        if answer.get("status") != "success":
            raise ExerciseFailed(f"query failed: {answer}")
        values = [r["value"][1] for r in answer["data"]["result"]]
        return None if values == ["1"] else f"up = {values}"

    until(f"a scrape of job {job}", scraped)


def alertmanager(base: str, name: str) -> None:
    alert = [{"labels": {"alertname": name, "source": "seccompgen-corpus"}}]

    def posted() -> str | None:
        status, body = request(f"{base}/api/v2/alerts", alert)
        return None if status == 200 else f"status {status}: {body[:200]!r}"

    until("POST /api/v2/alerts", posted)

    def listed() -> str | None:
        status, body = request(f"{base}/api/v2/alerts")
        if status != 200:
            return f"status {status}"
        names = {a["labels"].get("alertname") for a in json.loads(body)}
        return None if name in names else f"listed: {sorted(n for n in names if n)}"

    until(f"alert {name} listed", listed)


def etcd(base: str, key: str, value: str) -> None:
    def b64(s: str) -> str:
        return base64.b64encode(s.encode()).decode()

    def put() -> str | None:
        status, body = request(f"{base}/v3/kv/put", {"key": b64(key), "value": b64(value)})
        return None if status == 200 else f"status {status}: {body[:200]!r}"

    until(f"put {key}", put)
    status, body = request(f"{base}/v3/kv/range", {"key": b64(key)})
    if status != 200:
        raise ExerciseFailed(f"range {key}: status {status}: {body[:200]!r}")
    kvs = json.loads(body).get("kvs") or []
    got = [base64.b64decode(kv["value"]).decode() for kv in kvs]
    if got != [value]:
        raise ExerciseFailed(f"range {key}: read back {got}, put {value!r}")


KINDS: dict[str, Callable[..., None]] = {
    "get": get,
    "prometheus": prometheus,
    "alertmanager": alertmanager,
    "etcd": etcd,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in KINDS:
        print(f"usage: exercise.py {{{','.join(KINDS)}}} ARGS...", file=sys.stderr)
        return 2
    try:
        KINDS[argv[0]](*argv[1:])
    except ExerciseFailed as e:
        print(f"exercise {argv[0]} failed: {e}", file=sys.stderr)
        return 1
    print(f"exercise {argv[0]} ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
