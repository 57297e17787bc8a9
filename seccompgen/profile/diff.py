"""Compare the syscalls two profiles let an ordinary container make.

The usual comparison is a generated profile against Docker's default profile (bundled, see
``seccompgen/data/README.md``), to show how much the allowlist shrank.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from types import MappingProxyType

from seccompgen.errors import ProfileError
from seccompgen.profile.args import describe_profile
from seccompgen.profile.model import Action, Profile, SyscallRule

# libseccomp name -> the name Docker's includes/excludes "arches" use. moby compares them with
# libseccomp-golang's ScmpArch.String() of the native arch, which says "amd64" and "arm64"
# where libseccomp says "x86_64" and "aarch64" (moby profiles/seccomp/seccomp_linux.go).
_DOCKER_ARCH = MappingProxyType({"x86_64": "amd64", "aarch64": "arm64"})


@dataclass(frozen=True, slots=True)
class ProfileDiff:
    """Syscall names allowed by ``b`` and not ``a`` (added), the reverse (removed), and both."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    common: tuple[str, ...]
    a_count: int
    b_count: int
    a_args: tuple[tuple[str, str], ...] = ()
    """``a``'s argument conditions in words, per name
    (:func:`seccompgen.profile.args.describe_profile`)."""
    b_args: tuple[tuple[str, str], ...] = ()


def _applies(rule: SyscallRule, arch: str | None) -> bool:
    docker_arch = None if arch is None else _DOCKER_ARCH.get(arch, arch)
    if rule.includes.caps:
        return False
    if rule.includes.arches and (docker_arch is None or docker_arch not in rule.includes.arches):
        return False
    return not (
        rule.excludes.arches and (docker_arch is None or docker_arch in rule.excludes.arches)
    )


def allowed_names(profile: Profile, *, arch: str | None = None) -> frozenset[str]:
    """The syscall names an ordinary container may make under ``profile``.

    Counted: the names of every ``SCMP_ACT_ALLOW`` rule that applies to a container started
    with Docker's default capabilities on ``arch`` (a libseccomp arch name), namely rules

    * with no ``includes.caps`` (those need an added capability such as ``CAP_SYS_ADMIN``);
    * whose ``includes.arches`` is empty, or lists ``arch`` (when ``arch`` is ``None``, only
      rules without ``includes.arches`` count: the names allowed on every architecture);
    * whose ``excludes.arches`` does not list ``arch`` (with ``arch`` ``None``, rules with
      ``excludes.arches`` do not count).

    ``excludes.caps`` never removes a rule (an ordinary container lacks those capabilities),
    and ``includes.minKernel`` is taken as met. A name counts when any applicable rule allows
    it, even if only for some argument values (``personality``, ``clone``). Names allowed only
    because the default action is ALLOW or LOG are not listed: such a profile allows
    everything not denied.
    """
    names: set[str] = set()
    for rule in profile.syscalls:
        if rule.action is Action.ALLOW and _applies(rule, arch):
            names.update(rule.names)
    return frozenset(names)


def diff_profiles(a: Profile, b: Profile, *, arch: str | None = None) -> ProfileDiff:
    """Compare the names :func:`allowed_names` counts for ``a`` and ``b`` on ``arch``."""
    names_a = allowed_names(a, arch=arch)
    names_b = allowed_names(b, arch=arch)
    return ProfileDiff(
        added=tuple(sorted(names_b - names_a)),
        removed=tuple(sorted(names_a - names_b)),
        common=tuple(sorted(names_a & names_b)),
        a_count=len(names_a),
        b_count=len(names_b),
        a_args=_arg_words(a, arch),
        b_args=_arg_words(b, arch),
    )


def _arg_words(profile: Profile, arch: str | None) -> tuple[tuple[str, str], ...]:
    """The argument conditions of the rules :func:`allowed_names` counts, in words."""
    rules = tuple(r for r in profile.syscalls if _applies(r, arch))
    return describe_profile(replace(profile, syscalls=rules))


_DOCKER_DEFAULT = "docker-default-seccomp.json"


def docker_default_profile() -> Profile:
    """Docker's default seccomp profile (moby/profiles ``seccomp/default.json``, bundled)."""
    resource = resources.files("seccompgen") / "data" / _DOCKER_DEFAULT
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ProfileError(
            f"bundled {_DOCKER_DEFAULT} is unreadable: {e}", hint="reinstall seccompgen"
        ) from e
    return Profile.from_dict(data, source=f"seccompgen/data/{_DOCKER_DEFAULT}")
