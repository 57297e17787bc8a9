"""Risk notes: syscalls whose allowance widens what a compromised process can do.

The notes are data (``seccompgen/data/risk.json``): per libseccomp syscall name a short reason
and a source (a CVE exploited through the call, or the kernel documentation or manual page that
explains the power it grants). ``seccompgen report --format html`` shows the note beside every
such call a profile allows and lists the rest as refused.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Final

from seccompgen.errors import ProfileError

__all__ = ["RiskNote", "risk_notes"]

_DATA: Final = "risk.json"


@dataclass(frozen=True, slots=True)
class RiskNote:
    """Why allowing ``name`` matters, and where that is documented."""

    name: str
    reason: str
    source: str


@functools.cache
def risk_notes() -> dict[str, RiskNote]:
    """The bundled risk notes by syscall name, in file order.

    Raises :class:`~seccompgen.errors.ProfileError` when the bundled file is unreadable, lists
    a name twice or has an entry without a reason or source.
    """
    resource = resources.files("seccompgen") / "data" / _DATA
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
        notes = [
            RiskNote(str(e["name"]), str(e["reason"]), str(e["source"])) for e in data["syscalls"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ProfileError(
            f"bundled {_DATA} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e
    out: dict[str, RiskNote] = {}
    for n in notes:
        if n.name in out:
            raise ProfileError(f"bundled {_DATA} lists {n.name} twice")
        if not n.reason.strip() or not n.source.strip():
            raise ProfileError(f"bundled {_DATA}: {n.name} has no reason or no source")
        out[n.name] = n
    return out
