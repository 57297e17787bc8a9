"""seccompgen: least-privilege seccomp profiles from observed behaviour.

seccompgen runs a program (a static Go service, typically) under a tracer, records every system
call it makes as a stream of events, folds those events into a per-workload graph, and turns the
graph into seccomp profiles: an enforcing allowlist (``SCMP_ACT_ERRNO`` by default) and a staging
variant (``SCMP_ACT_LOG`` by default) that only logs what the allowlist misses. Profiles are
validated against the OCI runtime-spec schema and attached with ``docker run --security-opt
seccomp=...`` or a Kubernetes ``securityContext.seccompProfile``.
"""

__version__ = "0.1.0"
