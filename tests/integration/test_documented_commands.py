"""Every command line the documentation shows runs here, as written.

The commands are collected from the text itself (``tests/_doccommands.py``): README.md's fenced
``sh`` blocks and the example sections of every ``seccompgen ... --help`` page. Each one must have
an entry in :data:`COMMANDS` saying which set-ups it needs and what its output must show; a
documented command with no entry fails, and so does an entry no longer documented.

A command runs through ``bash -c`` in a fresh directory laid out like the repository root (the
README's examples run from there): ``examples/``, ``scripts/``, ``benchmarks/``, ``.venv`` and
``traces/recorded/`` link to this checkout, the virtual environment's ``bin`` is first on PATH
(as after ``. .venv/bin/activate``), and the set-ups it names put the files it reads in place:
the example programs built from ``examples/``, a trace store holding one traced run of the
service and of the batch job, their emitted profiles, and the ``httpservice:local`` image built
as the README builds it (``docker import``, nothing pulled). Containers and images made here are
removed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _doccommands import DocCommand, collect, help_commands, help_pages
from _rules import missing_tool
from _support import free_port, sg

from seccompgen._cli import cli
from seccompgen.tracing.gobuild import build_go

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
IMAGE = "httpservice:local"  # the image the README builds with `docker import`
PROGRAMS = ("httpservice", "batch", "loadgen")
SERVICE_URL = "http://127.0.0.1:8080/healthz"  # where `docker run ... httpservice:local` answers

# Set-ups a command can need (Run.needs):
#   programs        ./httpservice ./batch ./loadgen, built from examples/ (static Go)
#   data            data/in.txt, the batch job's input
#   store           ./traces holding a traced run of workloads httpservice and batch
#   profiles        profiles/httpservice.json, profiles/httpservice.log.json, profiles/batch.json,
#                   profiles/httpservice.crun.json and httpservice.podman.json (emitted with
#                   --runtime crun), profiles/httpservice.nonroot.json
#   image           the httpservice:local image (FROM scratch, the service as its ENTRYPOINT)
#   batch.strace    an `strace -f -ttt -X raw` log of the batch job
#   out/batch.*     `strace -ff` logs of the batch job
#   spo             deploy/recorded.yaml: SeccompProfile resources as SPO's recorder makes them
#                   (`kubectl get seccompprofiles -o yaml`; tests/data/spo/recorded.yaml)
#   staging-traffic once the command says it listens, ./httpservice runs for a moment under a
#                   filter that logs every call (SCMP_ACT_LOG), so the kernel writes records
#   base-image      the local Debian base image the tracer image is built on
#   repo            run in this checkout itself, not in a scratch directory
#   deployment.yaml a Kubernetes Deployment with comments (tests/data/manifests/deployment.yaml)
#   nonroot-image   httpservice:nonroot in Docker, made by the README's `docker import` line
#                   (USER 65532:65532)
#   podman-image    localhost/httpservice:local in podman's storage, made by the README's
#                   `podman import` line; the command runs with a containers.conf of modest
#                   rlimits (CONTAINERS_CONF, as the README says sandboxes need)
#   httpservice-arm64 ./httpservice-arm64, the service built with GOARCH=arm64 (static Go)
SETUPS = frozenset(
    {"programs", "data", "store", "profiles", "image", "batch.strace", "out/batch.*",
     "staging-traffic", "base-image", "repo", "deployment.yaml", "spo", "nonroot-image",
     "podman-image", "httpservice-arm64"}
)  # fmt: skip

# What the set-ups need from the machine (markers, see tests/conftest.py).
_SETUP_MARKS = {
    "programs": ("go",),
    "store": ("go", "strace"),
    "profiles": ("go", "strace"),
    "image": ("go", "docker"),
    "base-image": ("docker",),
    "batch.strace": ("go", "strace"),
    "out/batch.*": ("go", "strace"),
    "staging-traffic": ("go", "root"),
    "nonroot-image": ("go", "docker"),
    "podman-image": ("go", "podman"),
    "httpservice-arm64": ("go", "qemu"),
}


EXERCISE_FAILED = r"warning: the exercise command exited with"


@dataclass(frozen=True)
class Run:
    """How one documented command runs here and what shows it worked."""

    needs: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()  # regular expressions the output (stdout + stderr) must match
    files: tuple[str, ...] = ()  # globs that must match in the directory afterwards
    reject: tuple[str, ...] = (EXERCISE_FAILED,)  # regular expressions the output must not match
    status: int = 0
    marks: tuple[str, ...] = ()  # strace, docker, root, go; slow
    tools: tuple[str, ...] = ()  # other programs it runs (missing: the project's skip/fail rule)
    after: str = ""  # shell lines run after it in the same shell, their output checked too
    service: str = ""  # a URL: the command is a service; poll it, then SIGTERM, expect status
    ports: tuple[int, ...] = ()  # loopback ports it uses besides the 127.0.0.1:N it names
    run_as: str = ""  # a reduced form, when the command as written cannot run inside the suite
    why: str = ""  # why run_as (shown in the test's output)
    activated: bool = True  # the venv's bin first on PATH
    timeout: float = 600


PASS = r"(?m)^PASS: "
TRACED = r"trace complete: [\d,]+ syscalls, \d+ distinct -> \S*/traces/"
LOAD_8080 = "./loadgen -d 2s http://127.0.0.1:8080/healthz"
IMAGE_IMPORT = "tar -c httpservice | docker import -c 'ENTRYPOINT [\"/httpservice\"]' - " + IMAGE
NONROOT_IMPORT = (
    "tar -c httpservice | docker import -c 'ENTRYPOINT [\"/httpservice\"]' "
    "-c 'USER 65532:65532' - httpservice:nonroot"
)
PODMAN_IMPORT = (
    "tar -c httpservice | podman import -c 'ENTRYPOINT [\"/httpservice\"]' - "
    "localhost/httpservice:local"
)

COMMANDS: dict[str, Run] = {
    # ------------------------------------------------------------------ README: quick start
    "scripts/demo.sh": Run(
        marks=("go", "strace"),
        ports=(18080,),
        expect=(
            r"trace complete",
            r"profiles/httpservice\.json: ok",
            r"profiles/httpservice\.log\.json: ok",
            r"profiles/httpservice\.json allows \d+ fewer syscalls than Docker's default",
        ),
        files=(
            "traces/httpservice/*.trace.jsonl",
            "traces/graph.json",
            "profiles/httpservice.json",
            "profiles/httpservice.log.json",
        ),
    ),
    "scripts/test.sh": Run(
        needs=("repo",),
        marks=("go", "strace", "docker", "root"),
        run_as="scripts/test.sh -q -p no:cacheprovider tests/unit/test_syscalls.py",
        why="the whole suite cannot run inside itself: set-up, engine, ruff and mypy run in "
        "full, pytest on one module",
        expect=(r"== ruff", r"== mypy", r"Success: no issues found", r"\d+ passed"),
        timeout=900,
    ),
    # ------------------------------------------------------------------ README: set-up
    ". .venv/bin/activate": Run(
        activated=False,
        after="command -v seccompgen python go",
        expect=(r"/\.venv/bin/seccompgen\n.*/\.venv/bin/python\n.*/\.venv/bin/go\n",),
    ),
    "for p in httpservice batch loadgen; do python -m seccompgen.tracing.gobuild examples/$p $p; "
    "done": Run(
        marks=("go",),
        files=PROGRAMS,
        after="./batch; echo status $?",  # it runs: its usage message, status 2
        expect=(r"built .*/batch\n", r"(?m)^usage: batch -in FILE -out FILE$", r"(?m)^status 2$"),
    ),
    "mkdir -p data && echo 'the quick brown fox jumps over the lazy dog' > data/in.txt": Run(
        files=("data/in.txt",), after="wc -w < data/in.txt", expect=(r"(?m)^9$",)
    ),
    "tar -c httpservice | docker import -c 'ENTRYPOINT [\"/httpservice\"]' - httpservice:local": (
        Run(
            needs=("programs", "image"),
            marks=("docker",),
            tools=("tar", "docker"),
            expect=(r"sha256:[0-9a-f]{64}", r'\["/httpservice"\]'),
            after="docker image inspect httpservice:local --format '{{json .Config.Entrypoint}}'",
        )
    ),
    # ------------------------------------------------------------------ trace on the host
    "seccompgen trace ./batch -- -in data/in.txt -out data/out.json": Run(
        needs=("programs", "data"),
        marks=("strace",),
        expect=(TRACED + "batch/", r"target exit status: 0"),
        files=("data/out.json", "traces/batch/*.trace.jsonl"),
    ),
    f"seccompgen trace ./httpservice --workload web --exercise '{LOAD_8080}'": Run(
        needs=("programs",),
        marks=("strace",),
        expect=(TRACED + "web/", r"workload web: \d+ distinct syscalls"),
    ),
    "seccompgen trace ./httpservice --duration 3 --timeout 60 -- -addr 127.0.0.1:8081": Run(
        needs=("programs",),
        marks=("strace",),
        expect=(TRACED + "httpservice/", r"target exit status: 0"),
    ),
    "seccompgen trace ./httpservice --workload web --exercise "
    "'./loadgen -n 50 http://127.0.0.1:8080/debug/pprof/'": Run(
        needs=("programs",), marks=("strace",), expect=(TRACED + "web/",)
    ),
    "seccompgen trace ./httpservice --probe http://127.0.0.1:8080/healthz --probe-duration 2 "
    "-- -addr 127.0.0.1:8080": Run(
        needs=("programs",), marks=("strace",), expect=(TRACED + "httpservice/",)
    ),
    "seccompgen trace ./httpservice --duration 3 -- -addr 127.0.0.1:9000": Run(
        needs=("programs",), marks=("strace",), expect=(TRACED + "httpservice/",)
    ),
    f"seccompgen trace ./httpservice --exercise '{LOAD_8080}'": Run(
        needs=("programs",), marks=("strace",), expect=(TRACED + "httpservice/",)
    ),
    # ------------------------------------------------------------------ trace in containers
    f"seccompgen trace ./httpservice --container --network host --exercise '{LOAD_8080}'": Run(
        needs=("programs", "base-image"),
        marks=("docker", "root"),
        expect=(r"in a container \(network host\)", TRACED + "httpservice/"),
    ),
    "seccompgen trace --image httpservice:local --network host --exercise "
    "'./loadgen -d 2s http://127.0.0.1:8081/healthz' -- -addr 127.0.0.1:8081": Run(
        needs=("programs", "image"),
        marks=("docker", "root"),
        expect=(TRACED + "httpservice/",),
    ),
    "seccompgen trace --delta profiles/httpservice.json --image httpservice:local --network host "
    f"--exercise '{LOAD_8080}'": Run(
        needs=("programs", "profiles", "image", "store"),
        marks=("docker", "root"),
        expect=(
            r"(no new syscalls: profiles/httpservice\.json covers|\d+ new syscall\(s\):)",
            r"target exit status: 0",
        ),
    ),
    "seccompgen trace --delta profiles/httpservice.json --image httpservice:local --network host "
    f"--exercise '{LOAD_8080}' --learn": Run(
        needs=("programs", "profiles", "image", "store"),
        marks=("docker", "root"),
        expect=(
            r"(no new syscalls: profiles/httpservice\.json covers|kept as \S*/traces/httpservice/)",
            r"target exit status: 0",
        ),
    ),
    'CGO_ENABLED=0 GOARCH=arm64 go build -C examples/httpservice -o "$PWD/httpservice-arm64" .': (
        Run(
            marks=("go",),
            files=("httpservice-arm64",),
            after="seccompgen inspect httpservice-arm64",
            expect=(r"httpservice-arm64: ELF 64-bit LSB, aarch64",),
        )
    ),
    "seccompgen trace --emulate aarch64 ./httpservice-arm64 "
    "--exercise './loadgen -d 2s http://127.0.0.1:8092/healthz' -- -addr 127.0.0.1:8092": Run(
        needs=("programs", "httpservice-arm64"),
        expect=(
            r"tracing \./httpservice-arm64 -addr 127\.0\.0\.1:8092 as aarch64 under qemu-user",
            TRACED + "httpservice-arm64/",
            r"target exit status: 0",
        ),
        after='grep -c \'"arch": "aarch64"\' traces/httpservice-arm64/*.trace.jsonl',
        files=("traces/httpservice-arm64/*.trace.jsonl",),
    ),
    # ------------------------------------------------------------------ import
    "strace -f -ttt -X raw -o batch.strace ./batch -in data/in.txt -out data/out.json": Run(
        needs=("programs", "data"),
        marks=("strace",),
        files=("batch.strace", "data/out.json"),
        after="grep -c execve batch.strace",
        expect=(r"(?m)^[1-9]\d*$",),
    ),
    "seccompgen import batch.strace --workload batch": Run(
        needs=("batch.strace",),
        expect=(
            r"imported [\d,]+ syscalls \(\d+ distinct\) -> \S*/traces/batch/",
            r"new for batch: ",
        ),
    ),
    "mkdir -p out && strace -ff -o out/batch ./batch -in data/in.txt -out data/out.json": Run(
        needs=("programs", "data"),
        marks=("strace",),
        files=("out/batch.*", "data/out.json"),
    ),
    "seccompgen import out/batch.* --workload batch": Run(
        needs=("out/batch.*",),
        expect=(r"imported [\d,]+ syscalls \(\d+ distinct\) -> \S*/traces/batch/",),
    ),
    "seccompgen import --spo deploy/recorded.yaml": Run(
        needs=("spo",),
        expect=(
            r"(?m)^\S*/traces/demo-recording-httpservice/\S+\.trace\.jsonl: workload "
            r"demo-recording-httpservice: 53 syscalls, 53 new from deploy/recorded\.yaml "
            r"document 0 item 0 \(SeccompProfile v1beta1 demo-recording-httpservice\)$",
            r"(?m)^  seccompgen emit --workload demo-recording-batch$",
        ),
        files=("traces/demo-recording-httpservice/*.trace.jsonl", "traces/graph.json"),
    ),
    "seccompgen import --spo profiles/httpservice.json --workload httpservice": Run(
        needs=("store", "profiles"),
        expect=(
            r"(?m)^\S*/traces/httpservice/\S+\.trace\.jsonl: workload httpservice: \d+ "
            r"syscalls(, \d+ new)? from profiles/httpservice\.json document 0 \(Docker/OCI "
            r"profile\)$",
            r"(?m)^  seccompgen emit --workload httpservice$",
        ),
    ),
    # ------------------------------------------------------------------ emit
    "seccompgen emit --workload httpservice --mode log": Run(
        needs=("store",),
        expect=(r"wrote staging \(log\) profile profiles/httpservice\.log\.json: \d+ syscalls",),
        files=("profiles/httpservice.log.json",),
    ),
    "seccompgen emit --workload httpservice": Run(
        needs=("store",),
        expect=(r"wrote enforce profile profiles/httpservice\.json: \d+ syscalls allowed",),
        files=("profiles/httpservice.json",),
    ),
    "seccompgen emit --workload httpservice --mode enforce": Run(
        needs=("store",),
        expect=(r"wrote enforce profile profiles/httpservice\.json",),
        files=("profiles/httpservice.json",),
    ),
    "seccompgen emit -w httpservice -w batch -o profiles/pod.json": Run(
        needs=("store",),
        expect=(r"wrote enforce profile profiles/pod\.json",),
        files=("profiles/pod.json",),
    ),
    "seccompgen emit --workload httpservice -o build/httpservice.json": Run(
        needs=("store",),
        expect=(r"wrote enforce profile build/httpservice\.json",),
        files=("build/httpservice.json",),
    ),
    "seccompgen emit -w httpservice --runtime runc --no-new-privileges": Run(
        needs=("store",),
        expect=(r"runtime: measured block runc \S+ \(NNP\)", r"wrote enforce profile"),
    ),
    "seccompgen emit -w httpservice --format oci -o build/httpservice.oci.json": Run(
        needs=("store",),
        expect=(
            r"wrote enforce profile \(oci form\) build/httpservice\.oci\.json: \d+ syscalls",
            r"build/httpservice\.oci\.json: ok",
        ),
        files=("build/httpservice.oci.json",),
        after="seccompgen validate build/httpservice.oci.json; "
        "grep -c comment build/httpservice.oci.json || true",
        reject=(EXERCISE_FAILED, r"(?m)^[1-9]\d*$"),  # no Docker-only "comment" key
    ),
    "seccompgen emit -w httpservice --format oci --kubelet-dir /var/lib/kubelet/seccomp": Run(
        needs=("store",),
        run_as="seccompgen emit -w httpservice --format oci --kubelet-dir node/kubelet/seccomp",
        why="the suite does not write into this machine's kubelet directory; the same command "
        "into a directory laid out like it",
        expect=(
            r"wrote enforce profile \(oci form\) node/kubelet/seccomp/seccompgen/"
            r"httpservice\.json",
            r"installed for the kubelet: localhostProfile seccompgen/httpservice\.json",
            r"localhostProfile: seccompgen/httpservice\.json",
        ),
        files=("node/kubelet/seccomp/seccompgen/httpservice.json",),
    ),
    "seccompgen emit -w httpservice --format spo --binding httpservice:local": Run(
        needs=("store",),
        expect=(
            r"wrote 1 SeccompProfile\(s\) and 1 ProfileBinding\(s\) \(enforce, "
            r"security-profiles-operator\.x-k8s\.io/v1\) to profiles/httpservice\.yaml",
            r"localhostProfile operator/httpservice\.json",
            r"ProfileBinding httpservice-httpservice-local: image httpservice:local",
            r"kubectl apply -f profiles/httpservice\.yaml",
        ),
        files=("profiles/httpservice.yaml",),
    ),
    "seccompgen emit --format spo --api-version v1beta1 --namespace web --label team=web "
    "-o sp.yaml": Run(
        needs=("store",),
        expect=(
            r"wrote 2 SeccompProfile\(s\) and 0 ProfileBinding\(s\) \(enforce, "
            r"security-profiles-operator\.x-k8s\.io/v1beta1\) to sp\.yaml",
            r"SeccompProfile batch \(workload batch\).*localhostProfile operator/web/batch\.json",
            r"SeccompProfile httpservice \(workload httpservice\).*localhostProfile "
            r"operator/web/httpservice\.json",
            r"kubectl apply -f sp\.yaml",
        ),
        files=("sp.yaml",),
    ),
    "seccompgen emit -w httpservice --args auto -o build/httpservice.args.json": Run(
        needs=("store",),
        expect=(
            r"wrote enforce profile build/httpservice\.args\.json: \d+ syscalls allowed",
            r"(?m)^arguments: socket: AF_\w+",
            r"(?m)^arguments: clone: no namespace flags$",
        ),
        files=("build/httpservice.args.json",),
    ),
    "seccompgen emit -w httpservice --arch aarch64 -o build/httpservice.arm64.json": Run(
        needs=("store",),
        expect=(
            r"wrote enforce profile build/httpservice\.arm64\.json: \d+ syscalls allowed",
            r"warning: arch_prctl has no counterpart on aarch64, left out: x86 only",
            r'"SCMP_ARCH_AARCH64"',
        ),
        files=("build/httpservice.arm64.json",),
        after="cat build/httpservice.arm64.json",
        reject=(EXERCISE_FAILED, r'"arch_prctl"', r"SCMP_ARCH_X86_64"),
    ),
    "seccompgen emit -w httpservice --arch x86_64 --arch aarch64 -o build/httpservice.multi.json": (
        Run(
            needs=("store",),
            expect=(
                r"wrote enforce profile build/httpservice\.multi\.json: \d+ syscalls allowed",
                r"warning: arch_prctl has no counterpart on aarch64",
                r'"SCMP_ARCH_X86_64",\s*"SCMP_ARCH_AARCH64"',
                r'"arch_prctl"',
                r'"epoll_pwait"',
            ),
            files=("build/httpservice.multi.json",),
            after="cat build/httpservice.multi.json",
        )
    ),
    # ------------------------------------------------------------------ learn
    "seccompgen learn --listen 10 --workload httpservice --comm httpservice": Run(
        needs=("store", "programs", "staging-traffic"),
        marks=("root",),
        expect=(r"\d+ record\(s\), [1-9]\d* for httpservice, \d+ already known",),
    ),
    "seccompgen learn --from traces/recorded/audit/audit.log --workload auditprobe": Run(
        expect=(r"\d+ record\(s\), [1-9]\d* for auditprobe", r"new for auditprobe: "),
        files=("traces/auditprobe/*",),
    ),
    "seccompgen learn --from traces/recorded/audit/audit.log -w auditprobe --comm "
    "auditprobe-amd6": Run(
        expect=(r"\d+ record\(s\), [1-9]\d* for auditprobe", r"new for auditprobe: ")
    ),
    "dmesg > kern.txt && seccompgen learn --from kern.txt --workload httpservice": Run(
        needs=("store",),
        tools=("dmesg",),
        expect=(r"\d+ record\(s\), \d+ for httpservice",),
        files=("kern.txt",),
    ),
    "journalctl -k -o short > kern.txt && seccompgen learn --from kern.txt -w httpservice": Run(
        needs=("store",),
        tools=("journalctl",),
        expect=(r"\d+ record\(s\), \d+ for httpservice",),
        files=("kern.txt",),
    ),
    # ------------------------------------------------------------------ inspect, report
    "seccompgen inspect ./httpservice": Run(
        needs=("programs",),
        expect=(r"linkage: +static", r"Go: +go1\.\d+", r"syscalls its linked Go code can make"),
    ),
    "seccompgen inspect ./httpservice --against httpservice": Run(
        needs=("programs", "store"),
        expect=(r"reachable but never seen in httpservice: \d+", r"reachable via "),
    ),
    "seccompgen inspect ./httpservice --format json": Run(
        needs=("programs",), expect=(r'"reachable": \{', r'"version": "go1\.\d+')
    ),
    "seccompgen report -w httpservice": Run(
        needs=("store",), expect=(r"httpservice: \d+ syscall\(s\) observed", r"accept4 ")
    ),
    "seccompgen report -w httpservice --binary ./httpservice": Run(
        needs=("store", "programs"),
        expect=(r"httpservice: \d+ syscall\(s\) observed", r"reachable"),
    ),
    "seccompgen report -w httpservice --format svg -o httpservice.svg": Run(
        needs=("store",),
        tools=("dot",),
        expect=(r"wrote httpservice\.svg",),
        files=("httpservice.svg",),
        after="grep -c '<svg' httpservice.svg",
    ),
    "seccompgen report --format html -o report.html": Run(
        needs=("store",),
        tools=("dot",),
        expect=(r"wrote report\.html",),
        files=("report.html",),
        after="grep -c 'id=\"w-httpservice\"' report.html",
    ),
    # ------------------------------------------------------------------ validate, graph, diff
    "seccompgen validate profiles/*.json": Run(
        needs=("profiles",),
        expect=(
            r"profiles/batch\.json: ok",
            r"profiles/httpservice\.json: ok",
            r"profiles/httpservice\.log\.json: ok",
        ),
    ),
    "seccompgen validate profiles/httpservice.json": Run(
        needs=("profiles",), expect=(r"^profiles/httpservice\.json: ok$",)
    ),
    "seccompgen graph": Run(
        needs=("store",), expect=(r"workloads: batch, httpservice", r"httpservice: \d+ syscalls")
    ),
    "seccompgen graph --workload httpservice --format json": Run(
        needs=("store",), expect=(r'"httpservice"', r'"accept4"')
    ),
    "seccompgen graph --format dot | dot -Tsvg > graph.svg": Run(
        needs=("store",),
        tools=("dot",),
        files=("graph.svg",),
        after="grep -c accept4 graph.svg",
        expect=(r"(?m)^[1-9]\d*$",),
    ),
    "seccompgen diff profiles/httpservice.json docker-default": Run(
        needs=("profiles",),
        expect=(
            r"only in docker-default \(\+\d+\): ",
            r"profiles/httpservice\.json allows \d+ fewer syscalls than Docker's default",
        ),
    ),
    "seccompgen diff profiles/httpservice.json docker-default --summary": Run(
        needs=("profiles",),
        expect=(r"only in docker-default: \d+; only in profiles/httpservice\.json: \d+",),
    ),
    "seccompgen diff profiles/batch.json profiles/httpservice.json": Run(
        needs=("profiles",),
        expect=(r"only in profiles/httpservice\.json \(\+[1-9]\d*\): .*accept4",),
    ),
    # ------------------------------------------------------------------ verify
    "seccompgen verify profiles/httpservice.json ./httpservice --network host "
    f"--exercise '{LOAD_8080}'": Run(
        needs=("programs", "profiles"),
        marks=("docker", "root"),
        expect=(PASS, r"the exercise exited 0", r"stopped cleanly on SIGTERM"),
    ),
    "seccompgen emit -w batch && seccompgen verify profiles/batch.json ./batch "
    "-V $PWD/data:/data -- -in /data/in.txt -out /data/out.json": Run(
        needs=("programs", "data", "store"),
        marks=("docker", "root"),
        expect=(r"wrote enforce profile profiles/batch\.json", PASS, r"exited 0 on its own"),
        files=("data/out.json",),
    ),
    "seccompgen verify profiles/batch.json ./batch -V $PWD/data:/data "
    "-- -in /data/in.txt -out /data/out.json": Run(
        needs=("programs", "data", "profiles"),
        marks=("docker", "root"),
        expect=(PASS, r"exited 0 on its own"),
        files=("data/out.json",),
    ),
    "seccompgen verify profiles/httpservice.json --image httpservice:local --no-new-privileges "
    "--duration 3": Run(
        needs=("profiles", "image"),
        marks=("docker", "root"),
        expect=(r"no-new-privileges\)", PASS, r"stopped cleanly on SIGTERM"),
    ),
    "seccompgen verify profiles/httpservice.json --image httpservice:local --duration 3 "
    "--strict": Run(
        needs=("profiles", "image"),
        marks=("docker", "root"),
        expect=(PASS, r"strict: the staging variant logged no call the profile would refuse"),
    ),
    "seccompgen verify profiles/httpservice.json --image httpservice:local --network host "
    "--exercise './loadgen -d 2s http://127.0.0.1:8081/healthz' -- -addr 127.0.0.1:8081": Run(
        needs=("programs", "profiles", "image"),
        marks=("docker", "root"),
        expect=(PASS, r"the exercise exited 0", r"stopped cleanly on SIGTERM"),
    ),
    "seccompgen verify profiles/httpservice.crun.json --image httpservice:local --runtime crun "
    "--duration 3": Run(
        needs=("profiles", "image"),
        marks=("docker", "root", "crun"),
        expect=(r"runtime crun\)", PASS, r"stopped cleanly on SIGTERM"),
    ),
    "seccompgen verify profiles/httpservice.json ./httpservice --duration 3": Run(
        needs=("programs", "profiles"),
        marks=("docker", "root"),
        expect=(PASS, r"stopped cleanly on SIGTERM"),
    ),
    # ------------------------------------------------------------------ runtime-baseline
    "seccompgen runtime-baseline": Run(
        marks=("docker", "root", "go"),
        expect=(
            r"(?m)^round 3 as 65532:65532: \d+ distinct",
            r"runc \S+ \(no NNP\): \d+ distinct syscalls",
        ),
        files=("profiles/runtime/runc-*-no-nnp.json",),
    ),
    "seccompgen runtime-baseline --no-new-privileges": Run(
        marks=("docker", "root", "go"),
        expect=(r"runc \S+ \(NNP\): \d+ distinct syscalls after the filter",),
        files=("profiles/runtime/runc-*-nnp.json",),
    ),
    "seccompgen runtime-baseline --runtime runc --rounds 5 -o runtime-blocks": Run(
        marks=("docker", "root", "go"),
        expect=(r"(?m)^round 5 as root: ", r"-> runtime-blocks/runc-"),
        files=("runtime-blocks/runc-*-no-nnp.json",),
    ),
    "seccompgen runtime-baseline --runtime crun": Run(
        marks=("docker", "root", "go", "crun"),
        expect=(
            r"(?m)^round 3 as 65532:65532: \d+ distinct",
            r"crun \S+ \(no NNP\): \d+ distinct syscalls",
        ),
        files=("profiles/runtime/crun-*-no-nnp.json",),
    ),
    "seccompgen runtime-baseline --runtime crun --no-new-privileges": Run(
        marks=("docker", "root", "go", "crun"),
        expect=(r"crun \S+ \(NNP\): \d+ distinct syscalls after the filter",),
        files=("profiles/runtime/crun-*-nnp.json",),
    ),
    "seccompgen emit -w httpservice --runtime crun -o profiles/httpservice.crun.json": Run(
        needs=("store",),
        expect=(r"runtime: measured block crun \S+ \(no NNP\)",),
        files=("profiles/httpservice.crun.json",),
    ),
    "seccompgen verify profiles/httpservice.crun.json ./httpservice --runtime crun --network host "
    f"--exercise '{LOAD_8080}'": Run(
        needs=("programs", "profiles"),
        marks=("docker", "root", "crun"),
        expect=(r"runtime crun\)", PASS, r"the exercise exited 0", r"stopped cleanly on SIGTERM"),
    ),
    # ------------------------------------------------------------------ non-root images
    NONROOT_IMPORT: Run(
        needs=("programs", "nonroot-image"),
        marks=("docker",),
        tools=("tar", "docker"),
        expect=(r"sha256:[0-9a-f]{64}", r"^65532:65532$"),
        after="docker image inspect httpservice:nonroot --format '{{.Config.User}}'",
    ),
    "seccompgen trace --image httpservice:nonroot --network host "
    "--probe http://127.0.0.1:8082/healthz -- -addr 127.0.0.1:8082": Run(
        needs=("nonroot-image",),
        marks=("docker", "strace"),
        expect=(TRACED + "httpservice/", r"target exit status: 0"),
    ),
    "seccompgen emit -w httpservice -o profiles/httpservice.nonroot.json": Run(
        needs=("store",),
        expect=(r"profiles/httpservice.nonroot.json",),
        files=("profiles/httpservice.nonroot.json",),
    ),
    "seccompgen verify profiles/httpservice.nonroot.json --image httpservice:nonroot "
    "--network host --strict --exercise './loadgen -d 2s http://127.0.0.1:8082/healthz' "
    "-- -addr 127.0.0.1:8082": Run(
        needs=("programs", "profiles", "nonroot-image"),
        marks=("docker", "root"),
        expect=(PASS, r"the exercise exited 0", r"strict: the staging variant logged no call"),
    ),
    # ------------------------------------------------------------------ podman
    PODMAN_IMPORT: Run(
        needs=("programs", "podman-image"),
        marks=("podman",),
        tools=("tar", "podman"),
        expect=(r"^sha256:[0-9a-f]{64}$", r'\["/httpservice"\]'),
        after="podman image inspect localhost/httpservice:local "
        "--format '{{json .Config.Entrypoint}}'",
    ),
    "seccompgen trace --image localhost/httpservice:local --engine podman --network host "
    "--probe http://127.0.0.1:8083/healthz -- -addr 127.0.0.1:8083": Run(
        needs=("podman-image",),
        marks=("podman", "strace", "root"),
        expect=(TRACED + "httpservice/", r"target exit status: 0"),
    ),
    "seccompgen emit -w httpservice --runtime auto --engine podman "
    "-o profiles/httpservice.podman.json": Run(
        needs=("store", "podman-image"),
        marks=("podman", "root"),
        expect=(
            r"profiles/httpservice.podman.json",
            r"measured block crun 1\.8\.1 \(no NNP\); the local podman engine's default runtime",
        ),
        files=("profiles/httpservice.podman.json",),
    ),
    "seccompgen verify profiles/httpservice.podman.json --image localhost/httpservice:local "
    "--engine podman --network host "
    "--exercise './loadgen -d 2s http://127.0.0.1:8083/healthz' -- -addr 127.0.0.1:8083": Run(
        needs=("programs", "profiles", "podman-image"),
        marks=("podman", "root"),
        expect=(PASS, r", podman\)", r"the exercise exited 0"),
    ),
    # ------------------------------------------------------------------ attach
    "docker run --rm --network host --security-opt "
    "seccomp=$PWD/profiles/httpservice.json httpservice:local": Run(
        needs=("profiles", "image"),
        marks=("docker", "root"),
        tools=("docker",),
        service=SERVICE_URL,
        expect=(r'"msg":"listening"',),
    ),
    "seccompgen k8s attach deployment.yaml --profile httpservice > patched.yaml": Run(
        needs=("deployment.yaml",),
        expect=(
            r"(?m)^Deployment/web \(document 0\): pod → Localhost seccompgen/httpservice\.json$",
            r"/var/lib/kubelet/seccomp/seccompgen/httpservice\.json on every node",
            r"(?m)^1$",
        ),
        files=("patched.yaml",),
        after="grep -c 'localhostProfile: seccompgen/httpservice.json' patched.yaml",
    ),
    "seccompgen k8s attach deployment.yaml --profile httpservice --container app "
    "-o patched.yaml": Run(
        needs=("deployment.yaml",),
        expect=(
            r"(?m)^Deployment/web \(document 0\): container app → Localhost "
            r"seccompgen/httpservice\.json$",
            r"wrote patched\.yaml",
            r"kubectl apply -f patched\.yaml",
        ),
        files=("patched.yaml",),
    ),
    "seccompgen k8s attach deployment.yaml --profile operator/httpservice.json --in-place "
    "--force": Run(
        needs=("deployment.yaml",),
        expect=(
            r"(?m)^Deployment/web \(document 0\): pod → Localhost operator/httpservice\.json$",
            r"kubectl apply -f deployment\.yaml",
            r"(?m)^1$",
        ),
        after="grep -c 'localhostProfile: operator/httpservice.json' deployment.yaml",
    ),
    "seccompgen k8s attach deployment.yaml --profile httpservice --podman -o pod.yaml": Run(
        needs=("deployment.yaml",),
        expect=(
            r"(?m)^Deployment/web \(document 0\): annotation → "
            r"seccomp\.security\.alpha\.kubernetes\.io/pod: localhost/httpservice\.json",
            r"podman kube play --seccomp-profile-root /var/lib/kubelet/seccomp/seccompgen "
            r"pod\.yaml",
            r"(?m)^1$",
        ),
        files=("pod.yaml",),
        after="grep -c 'seccomp.security.alpha.kubernetes.io/pod: localhost/httpservice.json' "
        "pod.yaml",
    ),
    # ------------------------------------------------------------------ benchmarks
    ".venv/bin/python benchmarks/overhead/run.py --rounds 5 --duration 4": Run(
        marks=("go", "strace", "root", "slow"),
        expect=(r"(?m)^\| native \| [\d,]+ \| ", r"\| seccompgen strace backend"),
        timeout=1800,
    ),
    ".venv/bin/python benchmarks/parser/run.py": Run(
        marks=("go", "strace", "slow"),
        tools=("awk",),
        expect=(r"\| compiled: parse -> SyscallGraph\.add_events \|", r"ratio parse->graph / awk"),
        timeout=1800,
    ),
    ".venv/bin/python benchmarks/htmlreport/run.py --rounds 5 --screenshot docs/report.png": Run(
        marks=("go", "strace", "chromium", "slow"),
        tools=("dot",),
        expect=(r"page: [\d,]+ bytes", r"within limits \(< 2 MiB, load < 2 s\): yes"),
        files=("docs/report.png",),
        timeout=900,
    ),
    ".venv/bin/python benchmarks/fuzz/run.py --seed 1 --budget 600s": Run(
        marks=("slow",),
        expect=(r"(?m)^strace +\d+ ", r"(?m)^total +\d+ inputs, 0 findings$"),
        timeout=1800,
    ),
}

_HOW_TO_ADD = (
    "add an entry to COMMANDS in tests/integration/test_documented_commands.py: the command's "
    "key (as in this message) -> Run(needs=(set-ups from SETUPS), marks=(what it needs: strace, "
    "docker, root, go), expect=(regular expressions its output must match), files=(...))"
)


def _documented() -> list[DocCommand]:
    return collect(README.read_text(), cli)


def _by_key() -> dict[str, list[DocCommand]]:
    found: dict[str, list[DocCommand]] = {}
    for cmd in _documented():
        found.setdefault(cmd.key, []).append(cmd)
    return found


def _params() -> list[Any]:
    params = []
    for key, shown in _by_key().items():
        run = COMMANDS.get(key)
        marks: list[Any] = []
        if run is not None:
            for name in sorted(
                {*run.marks, *(m for n in run.needs for m in _SETUP_MARKS.get(n, ()))}
            ):
                marks.append(getattr(pytest.mark, name))
        params.append(pytest.param(shown[0], marks=marks, id=key))
    return params


def test_the_table_lists_only_documented_commands() -> None:
    stale = sorted(set(COMMANDS) - set(_by_key()))
    assert not stale, f"COMMANDS has entries no documentation shows any more; remove them: {stale}"


def test_every_command_has_help_examples() -> None:
    # README: "Every command has `--help` with examples."
    pages = help_pages(cli)
    bare = [name for name, page in pages.items() if not help_commands(page, name)]
    assert not bare, f"--help pages without an Examples section: {bare}"


def test_set_up_names_are_known() -> None:
    unknown = {n for run in COMMANDS.values() for n in run.needs} - SETUPS
    assert not unknown, unknown


# --------------------------------------------------------------------------- set-ups


@dataclass(frozen=True)
class Traced:
    """The shared trace store and the profiles emitted from it."""

    store: Path
    profiles: Path


@pytest.fixture(scope="session")
def doc_programs(build_example: Callable[[str], Path]) -> dict[str, Path]:
    """The example programs, built once."""
    return {name: build_example(name) for name in PROGRAMS}


@pytest.fixture(scope="session")
def doc_httpservice_arm64(go_toolchain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service built for arm64, once."""
    out = tmp_path_factory.mktemp("doc-arm64") / "httpservice-arm64"
    return build_go(REPO / "examples" / "httpservice", out, goarch="arm64")


@pytest.fixture(scope="session")
def traced(doc_programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Traced:
    """One traced run of the service (under load, then SIGTERM) and one of the batch job, in a
    store, and the profiles emitted from it; each command works on a copy."""
    work = tmp_path_factory.mktemp("doc-traced")
    store = work / "traces"
    port = free_port()
    load = (
        f"{doc_programs['loadgen']} -c 4 -d 2s http://127.0.0.1:{port}/healthz "
        f"http://127.0.0.1:{port}/debug/pprof/"
    )
    runs = [
        ("trace", str(doc_programs["httpservice"]), "--exercise", load,
         "--", "-addr", f"127.0.0.1:{port}"),
        ("trace", str(doc_programs["batch"]), "--", "-in", str(REPO / "README.md"),
         "-out", str(work / "out.json")),
    ]  # fmt: skip
    profiles = work / "profiles"
    for args in runs:
        proc = sg(args[0], "--store", str(store), *args[1:], cwd=work)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "target exit status: 0" in proc.stdout, proc.stdout + proc.stderr
    for workload, mode, name, extra in (
        ("httpservice", "enforce", "httpservice.json", ()),
        ("httpservice", "log", "httpservice.log.json", ()),
        ("batch", "enforce", "batch.json", ()),
        ("httpservice", "enforce", "httpservice.crun.json", ("--runtime", "crun")),
        ("httpservice", "enforce", "httpservice.nonroot.json", ()),
        ("httpservice", "enforce", "httpservice.podman.json", ("--runtime", "crun")),
    ):
        out = profiles / name
        proc = sg("emit", "-w", workload, "--mode", mode, "--store", str(store), "-o", str(out),
                  *extra, cwd=work)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return Traced(store, profiles)


PODMAN_CONF = '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'


class Imported:
    """An image a README line imports (``docker import`` or ``podman import``), made once by that
    line and removed at the end with every ID its tag named."""

    def __init__(self, engine: str, tag: str, line: str, program: Path, work: Path) -> None:
        self.engine, self.tag, self.line = engine, tag, line
        self.program, self.work = program, work
        self.ids: set[str] = set()

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.engine, *args], capture_output=True, text=True, timeout=300, check=False,
            env=podman_env() if self.engine == "podman" else None,
        )  # fmt: skip

    def current(self) -> str | None:
        proc = self._cli("image", "inspect", self.tag, "--format", "{{.Id}}")
        return proc.stdout.strip() if proc.returncode == 0 else None

    def ensure(self) -> None:
        if self.current() not in self.ids:
            shutil.copy2(self.program, self.work / "httpservice")
            proc = subprocess.run(
                self.line, shell=True, cwd=self.work, capture_output=True, text=True,
                timeout=300, check=False,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
        self.note()

    def note(self) -> None:
        now = self.current()
        if now is not None:
            self.ids.add(now)

    def remove(self) -> None:
        for image_id in sorted(self.ids):
            listed = self._cli("ps", "-aq", "--filter", f"ancestor={image_id}")
            for cid in listed.stdout.split():
                self._cli("rm", "-f", cid)
            self._cli("rmi", "-f", image_id)


def podman_env() -> dict[str, str]:
    """The environment podman commands run with here: a containers.conf of modest rlimits."""
    conf = Path(os.environ.get("TMPDIR", "/tmp")) / f"seccompgen-doc-{os.getpid()}.conf"
    if not conf.exists():
        conf.write_text(PODMAN_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


@pytest.fixture(scope="session")
def nonroot_image(
    doc_programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Imported]:
    if shutil.which("docker") is None:
        missing_tool("the docker command is not on PATH")
    work = tmp_path_factory.mktemp("doc-nonroot")
    image = Imported(
        "docker", "httpservice:nonroot", NONROOT_IMPORT, doc_programs["httpservice"], work
    )
    yield image
    image.remove()


@pytest.fixture(scope="session")
def podman_image(
    doc_programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Imported]:
    if shutil.which("podman") is None:
        missing_tool("the podman command is not on PATH")
    work = tmp_path_factory.mktemp("doc-podman")
    image = Imported(
        "podman", "localhost/httpservice:local", PODMAN_IMPORT, doc_programs["httpservice"], work
    )
    yield image
    image.remove()


@pytest.fixture(scope="session")
def image_tag(
    doc_programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Imported]:
    if shutil.which("docker") is None:
        missing_tool("the docker command is not on PATH")
    tag = Imported(
        "docker",
        IMAGE,
        IMAGE_IMPORT,
        doc_programs["httpservice"],
        tmp_path_factory.mktemp("doc-image"),
    )
    yield tag
    tag.remove()


def _venv() -> Path:
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix) or not (venv / "bin" / "seccompgen").exists():
        pytest.fail(
            f"the tests must run from the project's virtual environment ({sys.prefix} is not "
            "one with seccompgen installed); run scripts/bootstrap.sh, then .venv/bin/python -m "
            "pytest",
            pytrace=False,
        )
    return venv


def _lay_out(root: Path, run: Run, request: pytest.FixtureRequest) -> None:
    """The repository-like directory the command runs in, with the set-ups it needs."""
    venv = _venv()
    for name in ("examples", "scripts", "benchmarks"):
        (root / name).symlink_to(REPO / name)
    (root / ".venv").symlink_to(venv)
    (root / "traces").mkdir()
    (root / "traces" / "recorded").symlink_to(REPO / "traces" / "recorded")
    needs = set(run.needs)
    if needs & {"programs", "batch.strace", "out/batch.*", "staging-traffic"}:
        programs: dict[str, Path] = request.getfixturevalue("doc_programs")
        for name, path in programs.items():
            shutil.copy2(path, root / name)
    if needs & {"data", "batch.strace", "out/batch.*"}:
        (root / "data").mkdir()
        (root / "data" / "in.txt").write_text("the quick brown fox jumps over the lazy dog\n")
    if needs & {"store", "profiles"}:
        traced: Traced = request.getfixturevalue("traced")
        if "store" in needs:
            shutil.copytree(traced.store, root / "traces", dirs_exist_ok=True, symlinks=True)
        if "profiles" in needs:
            shutil.copytree(traced.profiles, root / "profiles")
    if "httpservice-arm64" in needs:
        arm64: Path = request.getfixturevalue("doc_httpservice_arm64")
        shutil.copy2(arm64, root / "httpservice-arm64")
    if "deployment.yaml" in needs:
        shutil.copy2(REPO / "tests" / "data" / "manifests" / "deployment.yaml", root)
    if "spo" in needs:
        (root / "deploy").mkdir()
        shutil.copy2(REPO / "tests" / "data" / "spo" / "recorded.yaml", root / "deploy")
    if "image" in needs:
        request.getfixturevalue("image_tag").ensure()
    if "nonroot-image" in needs:
        request.getfixturevalue("nonroot_image").ensure()
    if "podman-image" in needs:
        request.getfixturevalue("podman_image").ensure()
    if "base-image" in needs:
        request.getfixturevalue("base_image")
    for log, argv in (
        ("batch.strace", ["strace", "-f", "-ttt", "-X", "raw", "-o", "batch.strace"]),
        ("out/batch.*", ["strace", "-ff", "-o", "out/batch"]),
    ):
        if log in needs:
            (root / "out").mkdir(exist_ok=True)
            subprocess.run(
                [*argv, "./batch", "-in", "data/in.txt", "-out", "data/out.json"],
                cwd=root, check=True, capture_output=True, timeout=120,
            )  # fmt: skip


def _environment(run: Run) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SECCOMPGEN_STORE", None)
    env.pop("VIRTUAL_ENV", None)
    venv_bin = str(_venv() / "bin")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    env["PATH"] = os.pathsep.join([venv_bin, *path] if run.activated else path)
    if "podman-image" in run.needs:
        env = {**env, "CONTAINERS_CONF": podman_env()["CONTAINERS_CONF"]}
    return env


def _wait_for_free_ports(ports: set[int]) -> None:
    """The documented commands name fixed loopback ports; wait until nothing listens there."""
    deadline = time.monotonic() + 60
    for port in sorted(ports):
        while True:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"127.0.0.1:{port} stays in use; the command needs it")
            time.sleep(0.5)


def _staging_traffic(proc: subprocess.Popen[str], root: Path, env: dict[str, str]) -> str:
    """While ``proc`` (a ``learn --listen``) runs, start ./httpservice under a filter that logs
    every call (SCMP_ACT_LOG) and stop it once it serves, again and again, until ``proc`` shows
    a record of it or ends: ``learn`` says it listens just before it subscribes, so the first
    start may come too early. Returns what ``proc`` wrote on stderr meanwhile."""
    log_all = root / "log-all.json"
    log_all.write_text('{"defaultAction": "SCMP_ACT_LOG"}\n')
    lines: list[str] = []
    recorded = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if re.match(r"\s+httpservice\[\d+\] ", line):
                recorded.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while not recorded.is_set() and proc.poll() is None:
        helper = subprocess.Popen(
            [sys.executable, "-m", "seccompgen.enforce", str(log_all), "--", "./httpservice",
             "-addr", "127.0.0.1:0"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert helper.stderr is not None
            helper.stderr.readline()  # its first log line: it is serving
        finally:
            helper.send_signal(signal.SIGTERM)
            helper.communicate(timeout=30)
        recorded.wait(timeout=1)
    reader.join(timeout=30)
    return "".join(lines)


def _run_service(script: str, root: Path, env: dict[str, str], url: str) -> tuple[int, str]:
    """Start a documented service command, wait until ``url`` answers 200, SIGTERM it."""
    proc = subprocess.Popen(
        ["bash", "-c", script], cwd=root, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    answered = ""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as resp:
                answered = f"{url} answered {resp.status}"
                break
            time.sleep(0.2)
        assert answered, f"{url} never answered"
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out + "\n" + answered


@pytest.mark.parametrize("shown", _params())
def test_documented_command(
    shown: DocCommand, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run = COMMANDS.get(shown.key)
    if run is None:
        pytest.fail(f"{shown.source}: `{shown.key}` is documented but never run; {_HOW_TO_ADD}")
    for tool in run.tools:
        if shutil.which(tool) is None:
            missing_tool(f"{tool} is not on PATH")
    root = REPO if "repo" in run.needs else tmp_path / "root"
    if root != REPO:
        root.mkdir()
        _lay_out(root, run, request)
    script = run.run_as or shown.text
    if run.run_as:
        print(f"running `{run.run_as}` for `{shown.key}`: {run.why}")
    ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", script)} | set(run.ports)
    _wait_for_free_ports(ports)
    env = _environment(run)
    if run.service:
        status, out = _run_service(script, root, env, run.service)
    else:
        body = f"{script}\nstatus=$?\n{run.after}\nexit $status\n" if run.after else script
        proc = subprocess.Popen(
            ["bash", "-c", body], cwd=root, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        seen = ""
        try:
            if "staging-traffic" in run.needs:
                seen = _staging_traffic(proc, root, env)
            stdout, stderr = proc.communicate(timeout=run.timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        status, out = proc.returncode, stdout + seen + stderr
    if "image" in run.needs:
        request.getfixturevalue("image_tag").note()
    for need, fixture in (("nonroot-image", "nonroot_image"), ("podman-image", "podman_image")):
        if need in run.needs:
            request.getfixturevalue(fixture).note()
    print(out)
    assert status == run.status, f"`{shown.text}` exited {status}, not {run.status}:\n{out}"
    for pattern in run.expect:
        assert re.search(pattern, out, re.M), f"`{shown.key}`: no /{pattern}/ in:\n{out}"
    for pattern in run.reject:
        assert not re.search(pattern, out, re.M), f"`{shown.key}`: /{pattern}/ in:\n{out}"
    for pattern in run.files:
        assert glob.glob(str(root / pattern)), f"`{shown.key}` left no {pattern} in {root}"
