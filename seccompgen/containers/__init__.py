"""Container engines: tracing and re-checking workloads inside containers.

Engine access and the tracer image (``image``), the strace bundle injected into images with no
libc (``bundle``), the container backend (``container``) and its delta mode (``delta``). This is
where a second engine plugs in.
"""
