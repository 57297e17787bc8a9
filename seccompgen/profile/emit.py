"""Deterministic JSON for profiles, written atomically.

The same profile always renders to the same bytes (2-space indent, names sorted within each
rule, keys in the order :meth:`Profile.to_dict` gives, trailing newline), so golden files and
run-to-run diffs mean something.

Two forms: Docker's (what :func:`render` gives for a built profile: runtime-spec keys, plus a
``comment`` on a rule that explains it), and the plain runtime-spec form (:func:`oci_profile`),
the ``linux.seccomp`` object the kubelet hands to the runtime for a ``Localhost`` profile, with
no key the runtime-spec does not define. Every file ``emit`` writes goes through
:func:`write_text_atomic`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from seccompgen.errors import ProfileError
from seccompgen.fileio import write_atomically
from seccompgen.profile.model import Profile


def render(profile: Profile) -> str:
    """The profile as runtime-spec JSON text, ending with a newline."""
    ordered = replace(
        profile,
        syscalls=tuple(
            replace(rule, names=tuple(sorted(set(rule.names)))) for rule in profile.syscalls
        ),
    )
    return json.dumps(ordered.to_dict(), indent=2, ensure_ascii=False) + "\n"


def profile_digest(profile: Profile) -> str:
    """``sha256:HEX`` of ``render(profile)``: the same for a copy, a renamed file or one whose
    JSON was re-indented or its names reordered, since it is taken after parsing."""
    return "sha256:" + hashlib.sha256(render(profile).encode("utf-8")).hexdigest()


def oci_profile(profile: Profile) -> Profile:
    """``profile`` in the runtime-spec form (config-linux.md, "Seccomp"): the same filter with
    the keys only Docker reads left out - a rule's ``comment`` and its ``includes``/``excludes``
    (moby/profiles ``seccomp.Syscall``). ``architectures`` is already the runtime-spec list of
    ``SCMP_ARCH_*`` (:class:`Profile` never holds Docker's ``archMap``).

    A rule with ``includes``/``excludes`` applies only on some arches, capabilities or kernels
    in Docker; the runtime-spec cannot say that, so such a profile is refused rather than
    widened or narrowed silently. Built profiles never have one.
    """
    for i, rule in enumerate(profile.syscalls):
        if rule.includes or rule.excludes:
            raise ProfileError(
                f"$.syscalls[{i}]: the rule has Docker's includes/excludes, which the OCI "
                "runtime-spec cannot express",
                hint="emit it with --format docker, or split the rule per architecture",
            )
    return replace(
        profile, syscalls=tuple(replace(rule, comment=None) for rule in profile.syscalls)
    )


def write_profile(path: Path, profile: Profile) -> None:
    """Write ``render(profile)`` to ``path`` atomically (:func:`write_text_atomic`)."""
    write_text_atomic(path, render(profile))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating parent directories; a new or
    replaced profile gets mode 0644 (it is not secret, and runtimes may read it as another
    user). A device or pipe is written to, not replaced (:mod:`seccompgen.fileio`)."""
    try:
        write_atomically(path, text.encode("utf-8"), mode=0o644, parents=True)
    except OSError as e:
        raise ProfileError(f"{path}: cannot write: {e}") from e
