"""[TARGET] [ARGS]... and --image: one rule for every command that runs a target.

The core is replaced at its edge (``pipeline.trace`` / ``pipeline.verify`` record what they were
asked and stop), so these tests check the parsing only; tests/integration/test_verify_image.py
runs the same forms against a real Docker engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from seccompgen import pipeline
from seccompgen._cli import cli
from seccompgen.errors import TracerError
from seccompgen.store import TraceStore


class _Asked(Exception):
    pass


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the core was asked: the TraceOptions or VerifyRequest of each call."""
    calls: list[Any] = []

    def record(request: Any, *_a: Any, **_kw: Any) -> Any:
        calls.append(request)
        raise _Asked

    monkeypatch.setattr(pipeline, "trace", record)
    monkeypatch.setattr(pipeline, "verify", record)
    return calls


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "p.json"
    path.write_text('{"defaultAction": "SCMP_ACT_ERRNO"}\n')
    return path


def invoke(*argv: str) -> Any:
    return CliRunner().invoke(cli, list(argv))


def test_verify_image_with_arguments_after_dashdash(asked: list[Any], profile: Path) -> None:
    result = invoke("verify", str(profile), "--image", "app:1", "--", "-in", "/data/a", "x")
    assert isinstance(result.exception, _Asked), result.output
    (req,) = asked
    assert (req.image, req.program, req.args) == ("app:1", None, ("-in", "/data/a", "x"))


def test_verify_image_options_after_the_profile_or_before(asked: list[Any], profile: Path) -> None:
    result = invoke("verify", "--image", "app:1", "--network", "host", str(profile), "--", "a")
    assert isinstance(result.exception, _Asked), result.output
    assert (asked[0].image, asked[0].program, asked[0].args) == ("app:1", None, ("a",))


def test_verify_image_without_arguments_keeps_the_cmd(asked: list[Any], profile: Path) -> None:
    result = invoke("verify", str(profile), "--image", "app:1")
    assert isinstance(result.exception, _Asked), result.output
    assert (asked[0].image, asked[0].program, asked[0].args) == ("app:1", None, ())


@pytest.mark.parametrize("tail", [("./prog", "--", "-a", "1"), ("--", "./prog", "-a", "1")])
def test_verify_program_and_its_arguments(
    asked: list[Any], profile: Path, tail: tuple[str, ...]
) -> None:
    result = invoke("verify", str(profile), *tail)
    assert isinstance(result.exception, _Asked), result.output
    assert (asked[0].image, asked[0].program, asked[0].args) == (None, Path("prog"), ("-a", "1"))


def test_verify_program_with_plain_arguments(asked: list[Any], profile: Path) -> None:
    result = invoke("verify", str(profile), "./prog", "in.txt", "out.json")
    assert isinstance(result.exception, _Asked), result.output
    assert (asked[0].program, asked[0].args) == (Path("prog"), ("in.txt", "out.json"))


@pytest.mark.parametrize(
    "form",
    [
        ("--image", "app:1", "--", "-addr", "127.0.0.1:1"),
        ("--delta", "known.json", "--image", "app:1", "--", "-addr", "127.0.0.1:1"),
        ("--delta", "known.json", "--learn", "--image", "app:1", "--", "-addr", "127.0.0.1:1"),
    ],
    ids=["trace", "delta", "delta-learn"],
)
def test_trace_image_with_arguments_after_dashdash(
    asked: list[Any], tmp_path: Path, form: tuple[str, ...]
) -> None:
    result = invoke("trace", "--store", str(tmp_path / "s"), *form)
    assert isinstance(result.exception, _Asked), result.output
    (opts,) = asked
    assert (opts.image, opts.target, opts.args) == ("app:1", None, ("-addr", "127.0.0.1:1"))
    assert opts.workload == "app"
    assert "tracing --image app:1 -- -addr 127.0.0.1:1 " in result.output


def test_trace_image_without_arguments(asked: list[Any], tmp_path: Path) -> None:
    result = invoke("trace", "--image", "reg.example/team/app:1", "--store", str(tmp_path))
    assert isinstance(result.exception, _Asked), result.output
    assert (asked[0].image, asked[0].target, asked[0].args) == ("reg.example/team/app:1", None, ())
    assert asked[0].workload == "app"
    assert "tracing --image reg.example/team/app:1 in a container" in result.output


def test_trace_program_and_its_arguments(asked: list[Any], tmp_path: Path) -> None:
    result = invoke("trace", "./server", "--store", str(tmp_path), "--", "-addr", "x")
    assert isinstance(result.exception, _Asked), result.output
    assert (asked[0].image, asked[0].target, asked[0].args) == (
        None,
        Path("server"),
        ("-addr", "x"),
    )
    assert "tracing ./server -addr x with strace (workload server)" in result.output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("verify", "{profile}", "./prog", "--image", "app:1"),
            "give TARGET (./prog) or --image IMAGE, not both; the arguments that replace the "
            "image's CMD go after `--`: --image app:1 -- ./prog",
        ),
        (
            ("verify", "{profile}", "--image", "app:1", "./prog", "--", "-x"),
            "give TARGET (./prog) or --image IMAGE, not both",
        ),
        (("verify", "{profile}"), "give TARGET (a program), or --image IMAGE"),
        (
            ("trace", "./prog", "--image", "app:1"),
            "give TARGET (./prog) or --image IMAGE, not both",
        ),
        (
            ("trace", "--delta", "k.json", "--image", "app:1", "a", "--", "b"),
            "--image app:1 -- a b",
        ),
        (("trace",), "give TARGET (a program), or --image IMAGE"),
        (("trace", "--delta", "k.json"), "give TARGET (a program), or --image IMAGE"),
    ],
)
def test_target_errors_are_usage_errors(
    asked: list[Any], profile: Path, argv: tuple[str, ...], message: str
) -> None:
    result = invoke(*(a.replace("{profile}", str(profile)) for a in argv))
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert asked == []


def test_pipeline_refuses_a_program_and_an_image(tmp_path: Path) -> None:
    opts = pipeline.TraceOptions(
        target=Path("/bin/true"),
        args=(),
        workload="w",
        store=TraceStore(tmp_path),
        image="app:1",
    )
    with pytest.raises(TracerError, match="not both"):
        pipeline.trace(opts, lambda _p: None)
