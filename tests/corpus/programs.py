"""The corpus: third-party Go programs from Debian bookworm packages, each with an exercise of
its own that must succeed.

A program is a :class:`Program` whose ``plan`` turns a :class:`Context` (free loopback ports, a
random token) into a :class:`Plan`: the steps run in the corpus image (a service with an
exercise on the host against 127.0.0.1, or a batch job that must exit 0), the host directories
mounted into the container, the files written into them first, and the check of what the
steps produced. The same plan runs under ``seccompgen trace`` and under ``seccompgen verify``,
each time in fresh directories, so both see the same arguments, mounts and inputs.

Each program's defaults were read before choosing its flags: everything listens on 127.0.0.1
only (services run with ``--network host``), batch jobs run with ``--network none``, and
nothing is configured that contacts another host (Caddy: no admin endpoint, no automatic HTTPS;
Alertmanager: cluster gossip disabled; etcd: a one-member cluster on loopback, no discovery).

Batch steps must be safe to run twice in a row: ``verify --strict`` repeats a passing run under
the staging variant. Steps that are not (``restic init``, ``age-keygen -o``, which refuse to
overwrite) are in ``prepare``: run once, unconfined and untraced, before the steps.
"""

from __future__ import annotations

import filecmp
import shlex
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

EXERCISE = Path(__file__).resolve().parent / "exercise.py"


class CheckFailed(Exception):
    """What a program produced is not what its exercise expects."""


@dataclass(frozen=True)
class Context:
    """Per-run values: loopback ports nothing listens on, and a random token to look for."""

    ports: tuple[int, ...]
    token: str


@dataclass(frozen=True)
class Mount:
    """``HOST:CONTAINER[:mode]`` with HOST a subdirectory of the run's directory."""

    subdir: str
    container: str
    mode: str = "rw"


@dataclass(frozen=True)
class Step:
    """One command in the image (it replaces the image's CMD). With ``exercise`` it is a
    service: the exercise (a host shell command) must exit 0 and the service then stops
    cleanly on SIGTERM. Without, a batch job that must exit 0 on its own."""

    args: tuple[str, ...]
    exercise: str | None = None


def _nothing(_root: Path) -> None:
    pass


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    mounts: tuple[Mount, ...]
    files: dict[str, str] = field(default_factory=dict)
    """Files written before the run, by path relative to the run's directory."""
    prepare: tuple[tuple[str, ...], ...] = ()
    """Commands run in the image before the steps, unconfined and untraced."""
    check: Callable[[Path], None] = _nothing
    """Checks the run's directory after the steps; raises :class:`CheckFailed`."""
    restarts: int = 0
    """How many more times the steps are traced on the data of the first traced run: a
    stateful service (a database, a time-series store) does other things when it starts on
    existing data, and ``verify --strict`` starts it so (its staging run follows the enforce
    run on the same directories)."""

    @property
    def network(self) -> str:
        return "host" if any(s.exercise for s in self.steps) else "none"


@dataclass(frozen=True)
class Program:
    name: str  # the workload name
    package: str  # the Debian package
    binary: str  # the program's path in the image
    ports: int  # how many loopback ports the plan needs
    plan: Callable[[Context], Plan]

    @property
    def kind(self) -> str:
        probe = self.plan(Context(tuple(range(1, self.ports + 1)), "0"))
        return "service" if probe.network == "host" else "batch"


def exercise(kind: str, *args: object) -> str:
    """The host command that runs ``exercise.py KIND ARGS`` with this Python."""
    return shlex.join([sys.executable, str(EXERCISE), kind, *(str(a) for a in args)])


def _read(path: Path) -> str:
    if not path.is_file():
        raise CheckFailed(f"{path} was not produced")
    return path.read_text(encoding="utf-8", errors="replace")


# ---------------------------------------------------------------------- services


def caddy(ctx: Context) -> Plan:
    (port,) = ctx.ports
    # Global options: no admin endpoint (it listens on localhost:2019 by default) and no
    # automatic HTTPS (no ACME, no certificate management traffic); an http:// site address.
    caddyfile = textwrap.dedent(f"""\
        {{
        \tadmin off
        \tauto_https off
        }}
        http://127.0.0.1:{port} {{
        \tbind 127.0.0.1
        \troot * /srv/site
        \tfile_server
        }}
        """)
    return Plan(
        steps=(
            Step(
                ("caddy", "run", "--config", "/etc/corpus/Caddyfile", "--adapter", "caddyfile"),
                exercise("get", f"http://127.0.0.1:{port}/page.html", f"corpus {ctx.token}"),
            ),
        ),
        mounts=(Mount("cfg", "/etc/corpus", "ro"), Mount("site", "/srv/site", "ro")),
        files={
            "cfg/Caddyfile": caddyfile,
            "site/page.html": f"<html><body>corpus {ctx.token}</body></html>\n",
        },
    )


def prometheus(ctx: Context) -> Plan:
    (port,) = ctx.ports
    job = f"corpus-{ctx.token}"
    config = textwrap.dedent(f"""\
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: {job}
            static_configs:
              - targets: ["127.0.0.1:{port}"]
        """)
    return Plan(
        steps=(
            Step(
                (
                    "prometheus",
                    "--config.file=/etc/corpus/prometheus.yml",
                    "--storage.tsdb.path=/data/tsdb",
                    f"--web.listen-address=127.0.0.1:{port}",
                ),
                exercise("prometheus", f"http://127.0.0.1:{port}", job),
            ),
        ),
        mounts=(Mount("cfg", "/etc/corpus", "ro"), Mount("data", "/data")),
        files={"cfg/prometheus.yml": config},
        restarts=1,
    )


def node_exporter(ctx: Context) -> Plan:
    (port,) = ctx.ports
    return Plan(
        steps=(
            Step(
                ("prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"),
                exercise("get", f"http://127.0.0.1:{port}/metrics", "node_load1 "),
            ),
        ),
        mounts=(),
    )


def alertmanager(ctx: Context) -> Plan:
    (port,) = ctx.ports
    config = textwrap.dedent("""\
        route:
          receiver: corpus
        receivers:
          - name: corpus
        """)
    return Plan(
        steps=(
            Step(
                (
                    "prometheus-alertmanager",
                    "--config.file=/etc/corpus/alertmanager.yml",
                    "--storage.path=/data",
                    f"--web.listen-address=127.0.0.1:{port}",
                    # Empty: no cluster listener and no gossip (HA mode off, alertmanager -h).
                    "--cluster.listen-address=",
                ),
                exercise("alertmanager", f"http://127.0.0.1:{port}", f"Corpus{ctx.token}"),
            ),
        ),
        mounts=(Mount("cfg", "/etc/corpus", "ro"), Mount("data", "/data")),
        files={"cfg/alertmanager.yml": config},
        restarts=1,
    )


def etcd(ctx: Context) -> Plan:
    client, peer = ctx.ports
    return Plan(
        steps=(
            Step(
                (
                    "etcd",
                    "--name=corpus",
                    "--data-dir=/data/etcd",
                    f"--listen-client-urls=http://127.0.0.1:{client}",
                    f"--advertise-client-urls=http://127.0.0.1:{client}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-cluster=corpus=http://127.0.0.1:{peer}",
                ),
                exercise("etcd", f"http://127.0.0.1:{client}", "/corpus/key", ctx.token),
            ),
        ),
        mounts=(Mount("data", "/data"),),
        restarts=1,
    )


# ---------------------------------------------------------------------- batch jobs


def hugo(ctx: Context) -> Plan:
    site = {
        "site/config.toml": textwrap.dedent(f"""\
            baseURL = "http://example.invalid/"
            title = "Corpus {ctx.token}"
            disableKinds = ["taxonomy", "term", "RSS", "sitemap"]
            """),
        "site/layouts/index.html": (
            "<!DOCTYPE html><html><head><title>{{ .Site.Title }}</title></head><body>\n"
            "{{ range .Site.RegularPages }}<article><h2>{{ .Title }}</h2>{{ .Content }}"
            "</article>{{ end }}\n</body></html>\n"
        ),
        "site/layouts/_default/single.html": (
            "<!DOCTYPE html><html><body><h1>{{ .Title }}</h1>{{ .Content }}</body></html>\n"
        ),
        "site/layouts/_default/list.html": "<!DOCTYPE html><html><body></body></html>\n",
        "site/content/posts/first.md": (
            f'---\ntitle: "First {ctx.token}"\n---\n\nSome **bold** words.\n'
        ),
    }

    def check(root: Path) -> None:
        index = _read(root / "out" / "index.html")
        page = _read(root / "out" / "posts" / "first" / "index.html")
        for text, where in (
            (f"<title>Corpus {ctx.token}</title>", index),
            (f"<h2>First {ctx.token}</h2>", index),
            ("<strong>bold</strong>", index),
            (f"<h1>First {ctx.token}</h1>", page),
        ):
            if text not in where:
                raise CheckFailed(f"hugo's output lacks {text!r}")

    return Plan(
        steps=(Step(("hugo", "--source", "/site", "--destination", "/out", "--noBuildLock")),),
        # Read-write: hugo creates its resources/ directory (file caches) in the source.
        mounts=(Mount("site", "/site"), Mount("out", "/out")),
        files=site,
        check=check,
    )


def _tree(ctx: Context) -> dict[str, str]:
    """A few files in nested directories, with the token in their content."""
    return {
        "data/src/a.txt": f"alpha {ctx.token}\n",
        "data/src/sub/b.txt": f"beta {ctx.token}\n" * 200,
        "data/src/sub/deeper/c.bin": ctx.token * 4096,
    }


def _same_tree(left: Path, right: Path) -> None:
    files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    if not files:
        raise CheckFailed(f"{left} is empty")
    for rel in files:
        if not (right / rel).is_file():
            raise CheckFailed(f"{right / rel} is missing")
        if not filecmp.cmp(left / rel, right / rel, shallow=False):
            raise CheckFailed(f"{right / rel} differs from {left / rel}")


def restic(ctx: Context) -> Plan:
    repo = ("--repo", "/data/repo", "--password-file", "/data/password", "--no-cache")

    def check(root: Path) -> None:
        # restic restores the snapshot's absolute paths below the target.
        _same_tree(root / "data" / "src", root / "data" / "restored" / "data" / "src")

    return Plan(
        # `restic init` refuses an existing repository, so it cannot run twice: prepared.
        prepare=(("restic", *repo, "init"),),
        steps=(
            Step(("restic", *repo, "backup", "/data/src")),
            Step(("restic", *repo, "restore", "latest", "--target", "/data/restored")),
        ),
        mounts=(Mount("data", "/data"),),
        files={**_tree(ctx), "data/password": f"corpus-{ctx.token}\n"},
        check=check,
    )


def rclone(ctx: Context) -> Plan:
    def check(root: Path) -> None:
        _same_tree(root / "data" / "src", root / "data" / "dst")

    return Plan(
        steps=(
            Step(("rclone", "--config", "/data/rclone.conf", "sync", "/data/src", "/data/dst")),
        ),
        mounts=(Mount("data", "/data"),),
        files={**_tree(ctx), "data/rclone.conf": ""},
        check=check,
    )


def age(ctx: Context) -> Plan:
    message = f"a secret {ctx.token}\n" * 100

    def check(root: Path) -> None:
        sealed = (root / "data" / "message.age").read_bytes()
        if not sealed.startswith(b"age-encryption.org/v1\n") or ctx.token.encode() in sealed:
            raise CheckFailed("message.age is not an age file, or holds the plain text")
        if _read(root / "data" / "message.out") != message:
            raise CheckFailed("the decrypted message differs from the original")

    key = ("--identity", "/data/key.txt")
    return Plan(
        # age-keygen -o refuses to overwrite the key file: prepared.
        prepare=(("age-keygen", "-o", "/data/key.txt"),),
        steps=(
            Step(("age", "--encrypt", *key, "-o", "/data/message.age", "/data/message.txt")),
            Step(("age", "--decrypt", *key, "-o", "/data/message.out", "/data/message.age")),
        ),
        mounts=(Mount("data", "/data"),),
        files={"data/message.txt": message},
        check=check,
    )


def shfmt(ctx: Context) -> Plan:
    messy = f'if [ -n "$x" ]\nthen\n        echo   "{ctx.token}"\nfi\n'
    formatted = f'if [ -n "$x" ]; then\n  echo "{ctx.token}"\nfi\n'

    def check(root: Path) -> None:
        got = _read(root / "data" / "script.sh")
        if got != formatted:
            raise CheckFailed(f"shfmt wrote {got!r}, expected {formatted!r}")

    return Plan(
        steps=(Step(("shfmt", "-i", "2", "-w", "/data/script.sh")),),
        mounts=(Mount("data", "/data"),),
        files={"data/script.sh": messy},
        check=check,
    )


PROGRAMS: tuple[Program, ...] = (
    Program("caddy", "caddy", "/usr/bin/caddy", 1, caddy),
    Program("prometheus", "prometheus", "/usr/bin/prometheus", 1, prometheus),
    Program(
        "node-exporter",
        "prometheus-node-exporter",
        "/usr/bin/prometheus-node-exporter",
        1,
        node_exporter,
    ),
    Program(
        "alertmanager",
        "prometheus-alertmanager",
        "/usr/bin/prometheus-alertmanager",
        1,
        alertmanager,
    ),
    Program("etcd", "etcd-server", "/usr/bin/etcd", 2, etcd),
    Program("hugo", "hugo", "/usr/bin/hugo", 0, hugo),
    Program("restic", "restic", "/usr/bin/restic", 0, restic),
    Program("rclone", "rclone", "/usr/bin/rclone", 0, rclone),
    Program("age", "age", "/usr/bin/age", 0, age),
    Program("shfmt", "shfmt", "/usr/bin/shfmt", 0, shfmt),
)
