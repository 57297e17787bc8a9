"""Third-party Go programs from Debian bookworm, end to end: trace, emit, verify --strict.

Each program of :mod:`.programs` is traced in the corpus image (built locally by
scripts/build-corpus-image.sh, reused by its content hash) with its own exercise, then its
enforce profile is emitted and proven with ``verify --strict``, without and with
no-new-privileges, with no edit in between (see :mod:`.runner`). The test fails when an
exercise fails, a command fails, a profile refuses a call (strict) or an output is wrong.

``SECCOMPGEN_CORPUS_RESULTS=FILE`` also writes the results as JSON, which
``python -m tests.corpus.table --results FILE`` renders as the README table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .programs import PROGRAMS, Program
from .runner import CorpusError, Facts, ProgramResult, build_image, read_facts, run_program, save

pytestmark = [pytest.mark.corpus, pytest.mark.docker, pytest.mark.root, pytest.mark.slow]

_RESULTS: list[ProgramResult] = []


@pytest.fixture(scope="module")
def corpus_image() -> Iterator[str]:
    start = time.monotonic()
    try:
        image = build_image()
    except CorpusError as e:
        pytest.fail(str(e), pytrace=False)
    yield image
    out = os.environ.get("SECCOMPGEN_CORPUS_RESULTS")
    if out and _RESULTS:
        save(Path(out), image, _RESULTS, round(time.monotonic() - start, 1))


@pytest.fixture(scope="module")
def facts(corpus_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Facts]:
    return read_facts(corpus_image, PROGRAMS, tmp_path_factory.mktemp("facts"))


def test_the_corpus_has_static_and_dynamic_services_and_batch_jobs(
    facts: dict[str, Facts],
) -> None:
    assert len(PROGRAMS) >= 6
    assert set(facts) == {p.name for p in PROGRAMS}
    # seccompgen inspect and ldd in the image agree on each program.
    assert {n: f.linkage for n, f in facts.items()} == {n: f.ldd for n, f in facts.items()}
    assert {f.linkage for f in facts.values()} == {"static", "dynamic"}
    assert all(f.go_version and f.go_version.startswith("go1.") for f in facts.values()), facts
    assert {p.kind for p in PROGRAMS} == {"service", "batch"}
    assert all(f.version for f in facts.values()), facts


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_traced_profile_passes_verify_strict(
    program: Program, corpus_image: str, facts: dict[str, Facts], tmp_path: Path
) -> None:
    result = run_program(program, corpus_image, facts[program.name], tmp_path)
    _RESULTS.append(result)
    assert result.passed, "\n\n".join(result.failures())
    for mode in result.modes.values():
        assert mode.allowed is not None and mode.docker_default is not None
        assert 0 < mode.allowed < mode.docker_default
