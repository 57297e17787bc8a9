"""Splitting strace's printed argument list into raw scalar values.

strace(1) prints each argument of a call in C-like notation: numbers, quoted strings with C
escapes, ``{...}`` structures, ``[...]`` arrays and sets, ``name=value`` fields, ``/* ... */``
comments (``0x7ffd... /* 39 vars */``), ``a|b`` flag sets, and ``...`` where it abbreviated.
Only the *top-level* commas separate arguments.
"""

from __future__ import annotations

import re

ArgTuple = tuple[int | None, ...]

# A system call's arguments and its return value are one register each (syscall(2)): 64 bits
# at most, printed signed (%ld) or unsigned (%lu, %#lx) by strace. A printed number outside
# this range is not a register value; it is also what keeps ints bounded downstream (JSON
# output of a 5000-digit int fails, sys.get_int_max_str_digits()).
REGISTER_MIN = -(1 << 63)
REGISTER_MAX = (1 << 64) - 1

# A plain number as strace prints one: decimal (possibly negative), hex ``0x...``, or octal
# ``0644`` (file modes under ``-X raw``).  Anything else is not a raw scalar.
_NUMBER = re.compile(r"-?(?:0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_COMMENT = re.compile(r"\s*/\*.*?\*/\s*")
# Characters that need the careful scanner; without them ``", "`` alone separates arguments.
_SPECIAL = re.compile(r"[\"'{}\[\]()/<]")


# clone's arguments as strace prints them: named fields in an order of its own
# (``clone(child_stack=NULL, flags=0x1200011, child_tidptr=0x7f...)``). Their kernel argument
# indexes: clone(flags, stack, parent_tid, ...) on every x86 ABI (kernel/fork.c
# SYSCALL_DEFINE5(clone), clone(2) NOTES); the child_tid and tls indexes differ between ABIs
# (CLONE_BACKWARDS on i386), so those two fields are not placed. The ptrace and ebpf backends
# read the registers themselves and need none of this.
_CLONE_FIELDS = {"flags": 0, "child_stack": 1, "stack": 1, "parent_tid": 2, "parent_tidptr": 2}
_OTHER_CLONE_FIELDS = frozenset({"child_tidptr", "child_tid", "tls"})
_FIELD = re.compile(r"\s*([a-z_]+)=(.*)", re.S)


def scalar(token: str) -> int | None:
    """The integer a printed argument stands for, or ``None`` if it is not a plain number.

    ``NULL`` is the null pointer, 0 (strace prints it for a zero pointer argument). A flag set
    of numbers (``0x1|0x800|0x80000``: strace keeps the ``|`` under ``-X raw``) is their OR; a
    set with a symbolic name in it is not a number.
    """
    token = token.strip()
    if "/*" in token:
        token = _COMMENT.sub(" ", token).strip()
    if token == "NULL":
        return 0
    if "|" in token:
        value = 0
        for part in token.split("|"):
            v = scalar(part)
            if v is None or v < 0:
                return None
            value |= v
        return value
    if token.endswith(">") and "<" in token:
        # ``-y``/``-yy`` decorate file descriptors with what they refer to: ``3</etc/passwd>``
        token = token[: token.index("<")]
    if _NUMBER.fullmatch(token) is None:
        return None
    negative = token.startswith("-")
    digits = token[1:] if negative else token
    if digits.startswith("0x"):
        value = int(digits, 16)
    elif (
        digits.startswith("0") and len(digits) > 1
    ):  # leading zero: C octal, as strace prints file modes
        value = int(digits, 8)
    elif len(digits) > 20:  # 2**64 has 20 digits; and int() refuses over 4300 (ValueError)
        return None
    else:
        value = int(digits)
    value = -value if negative else value
    return value if REGISTER_MIN <= value <= REGISTER_MAX else None


def split_args(text: str) -> list[str]:
    """Split a printed argument list at its top-level commas.

    Quotes (with backslash escapes), brackets of the three kinds and ``/* comments */`` are
    respected; unbalanced text (a line strace cut short) never raises, the rest of the text then
    belongs to the last argument.
    """
    if not text.strip():
        return []
    if _SPECIAL.search(text) is None:
        return text.split(",")
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 1
        elif c == "<" and i > 0 and text[i - 1].isdigit():
            # ``-y`` decoration of a file descriptor, ``3</a/path, with comma>``
            end = text.find(">", i + 1)
            i = n if end < 0 else end
        elif c in "{[(":
            depth += 1
        elif c in "}])":
            depth = max(depth - 1, 0)
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_args(text: str) -> ArgTuple:
    """One entry per argument: its int value, or ``None``. Arguments are in the kernel's order:
    printed order, except clone's named fields, which go to their argument index."""
    parts = split_args(text)
    if "=" in text:
        fields = [_FIELD.match(part) for part in parts]
        names = [m.group(1) for m in fields if m is not None]
        if (
            len(names) == len(parts)
            and "flags" in names
            and all(n in _CLONE_FIELDS or n in _OTHER_CLONE_FIELDS for n in names)
        ):
            placed: list[int | None] = [None] * 3
            for m in fields:
                assert m is not None
                index = _CLONE_FIELDS.get(m.group(1))
                if index is not None:
                    placed[index] = scalar(m.group(2))
            return tuple(placed)
    return tuple(scalar(part) for part in parts)
