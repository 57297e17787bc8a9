"""Types of the optional compiled module built from _speedups.c."""

from seccompgen.events import Event, Phase

def scan(
    batch: list[str],
    i: int,
    out: list[Event],
    table: dict[str, tuple[int, int, str]],
    pending: dict[str, tuple[str, str, float | None]],
    lo: float,
    hi: float,
    phase: Phase,
    /,
) -> int: ...
def fold_chunk(
    chunk: list[Event],
    i: int,
    counts: dict[tuple[str, str, Phase, str | None], int],
    transitions: dict[tuple[str, str], int],
    arg_tuples: dict[str, set[tuple[int | None, ...]]],
    last: dict[int, str],
    /,
) -> int: ...
