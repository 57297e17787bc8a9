"""How strace prints the values the strace parser turns into numbers: timestamps (``-t``,
``-tt``, ``-ttt``, ``-r``), return values (decimal, hexadecimal, octal) and the clone flags that
make a thread (see :mod:`seccompgen.parsing.strace`)."""

from __future__ import annotations

import math
import re

from seccompgen.parsing._args import REGISTER_MAX, REGISTER_MIN

_CLONE_THREAD = 0x10000  # <linux/sched.h>, clone(2)
_FLAGS = re.compile(r"flags=([^,}]*)")


class Clock:
    """Turns printed timestamps into floats; the format is fixed by the first one seen."""

    __slots__ = ("day", "last", "mode", "total")

    def __init__(self) -> None:
        self.mode = ""  # "epoch" | "relative" | "clock"
        self.total = 0.0
        self.last = 0.0
        self.day = 0.0

    def first(self, text: str) -> str:
        """Fix the format from the first timestamp; return the mode."""
        if ":" in text:
            self.mode = "clock"
        else:
            self.mode = "relative" if float(text) < 1e8 else "epoch"
        return self.mode

    def convert(self, text: str) -> float:
        if self.mode == "relative":  # strace -r: time since the previous line's start
            self.total += seconds(text)
            return seconds(self.total)
        h, m, s = text.split(":")  # strace -t / -tt: wall clock, seconds since midnight
        value = seconds(int(h) * 3600 + int(m) * 60 + float(s) + self.day)
        if value < self.last - 43200:
            self.day += 86400.0
            value += 86400.0
        self.last = value
        return value


def ret_int(text: str) -> int:
    """A return value as strace prints it: decimal, hexadecimal (``0x...``), or octal with a
    leading zero. strace prints umask(2)'s result, the previous mask, in octal (its umask
    decoder returns ``RVAL_OCTAL``, printed with ``%#lo``: ``umask(077) = 022``), which
    ``int(text, 0)`` refuses."""
    digits = text[1:] if text[:1] == "-" else text
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        return int(text, 8)
    return int(text, 0)


def seconds(value: str | float) -> float:
    # float() reads any run of digits, "9" * 400 as inf; no strace timestamp is infinite, and
    # the trace writer rejects inf (JSON has no such number).
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"timestamp {str(value)[:24]}... is out of range")
    return seconds


def ret_value(ret: str) -> int | None:
    if ret == "?":
        return None
    value = ret_int(ret)
    if not REGISTER_MIN <= value <= REGISTER_MAX:
        raise ValueError(f"return value {ret[:24]} is wider than a 64-bit register")
    return value


def clone_flags_thread(args_text: str) -> bool:
    """Whether a clone-family call's printed arguments include CLONE_THREAD."""
    m = _FLAGS.search(args_text)
    if m is None:
        return False
    flags = m.group(1)
    if "CLONE_THREAD" in flags:
        return True
    value = 0
    for part in flags.split("|"):
        part = part.strip()
        try:
            value |= int(part, 0)
        except ValueError:
            continue  # a symbolic name other than CLONE_THREAD, or an exit signal like SIGCHLD
    return bool(value & _CLONE_THREAD)
