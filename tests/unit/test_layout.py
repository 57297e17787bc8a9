"""The package's structure: no import cycle, no private base class from another module, no
oversized module without a reason, each CLI option declared once.

Pure and fast: every check reads the sources with :mod:`ast` and imports nothing from the
package. The checker functions are tested on small synthetic sources at the end, so a check
that stopped finding anything would fail there rather than pass silently here.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "seccompgen"

#: A module longer than this must say why it stays one module (see :func:`size_problem`).
MAX_LINES = 600

# ---------------------------------------------------------------------------------------------
# Reading the package


@dataclass(frozen=True)
class Module:
    """One source file of the package: its dotted name, path and text."""

    name: str
    path: Path
    source: str

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def display(self) -> str:
        return self.path.relative_to(PACKAGE.parent).as_posix()


def module_name(path: Path, root: Path) -> str:
    """``seccompgen/tracing/bpf/asm.py`` -> ``seccompgen.tracing.bpf.asm``; a package's
    ``__init__.py`` is the package itself."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_package(root: Path = PACKAGE) -> dict[str, Module]:
    """Every ``.py`` file under ``root``, by module name."""
    return {
        (name := module_name(path, root)): Module(name, path, path.read_text(encoding="utf-8"))
        for path in sorted(root.rglob("*.py"))
    }


# ---------------------------------------------------------------------------------------------
# Import cycles


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, target] if target else base)


def _dynamic_import(node: ast.Call) -> str | None:
    """The literal module name of ``importlib.import_module("m")`` or ``__import__("m", ...)``."""
    func = node.func
    is_import = (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    if is_import and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def import_edges(
    source: str, module: str, modules: Iterable[str], *, is_package: bool = False
) -> dict[str, list[int]]:
    """The package modules that ``module`` imports, each with the lines that import it.

    Every ``import`` and ``from ... import`` anywhere in the file counts (inside functions and
    ``if TYPE_CHECKING:`` too), and so does ``importlib.import_module``/``__import__`` of a
    literal name. ``from pkg import name`` is an edge to the submodule ``pkg.name`` when there is
    one, else to ``pkg``; importing a package is an edge to its ``__init__`` (the package's own
    name). Modules outside ``modules`` (the standard library, third-party packages) are dropped.
    """
    known = set(modules)
    edges: dict[str, list[int]] = {}

    def add(target: str, line: int) -> None:
        # ``import a.b.c`` where only ``a.b`` is ours: the nearest enclosing module of ours is
        # what gets imported.
        parts = target.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        name = ".".join(parts)
        if parts and name != module:
            edges.setdefault(name, []).append(line)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if alias.name != "*" and sub in known else base, node.lineno)
        elif isinstance(node, ast.Call) and (name := _dynamic_import(node)) is not None:
            add(name, node.lineno)
    return {name: sorted(set(lines)) for name, lines in sorted(edges.items())}


def import_graph(package: Mapping[str, Module]) -> dict[str, dict[str, list[int]]]:
    """Module -> {imported module: lines} over the whole package."""
    return {
        name: import_edges(m.source, name, package, is_package=m.is_package)
        for name, m in package.items()
    }


def _components(graph: Mapping[str, Mapping[str, list[int]]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = []
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work.append((start, iter(sorted(graph.get(start, {})))))
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(sorted(component))
    return found


def _shortest_cycle_through(
    graph: Mapping[str, Mapping[str, list[int]]], start: str, within: set[str]
) -> list[str] | None:
    """The shortest path ``start -> ... -> start`` inside ``within`` (breadth first)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in sorted(graph.get(node, {})):
            if child not in within:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if child not in seen:
                seen.add(child)
                previous[child] = node
                queue.append(child)
    return None


def find_cycles(graph: Mapping[str, Mapping[str, list[int]]]) -> list[list[str]]:
    """Import cycles in ``graph``: for each module caught in one, the shortest cycle through it.

    Each cycle is a list ``[a, b, ..., a]``, rotated to start at its smallest name; the same
    cycle found from several of its modules is listed once.
    """
    cycles: dict[tuple[str, ...], list[str]] = {}
    for component in _components(graph):
        members = set(component)
        for node in component:
            cycle = _shortest_cycle_through(graph, node, members)
            if cycle is None:
                continue
            ring = cycle[:-1]
            first = ring.index(min(ring))
            ring = ring[first:] + ring[:first]
            cycles.setdefault(tuple(ring), [*ring, ring[0]])
    return [cycles[key] for key in sorted(cycles)]


def describe_cycle(
    cycle: list[str], graph: Mapping[str, Mapping[str, list[int]]], files: Mapping[str, str]
) -> str:
    """The chain ``a -> b -> a``, then where each of its imports is written (``file:line``)."""
    lines = [" -> ".join(cycle)]
    for here, there in itertools.pairwise(cycle):
        at = ",".join(map(str, graph[here][there]))
        lines.append(f"    {files.get(here, here)}:{at} imports {there}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Private base classes from other modules


def private_bases(source: str) -> list[tuple[str, int, str]]:
    """Classes subclassing a private name (``_Something``) that this module imports.

    Returns ``(class name, line, base as written)``. A base counts when it is a name bound by
    ``from m import _Something`` (under any alias) or an attribute ``m._Something`` of another
    module; a private class defined in this same module is fine.
    """
    tree = ast.parse(source)
    imported_private: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    imported_private.add(alias.asname or alias.name)
    found: list[tuple[str, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for base in node.bases:
            target = base.value if isinstance(base, ast.Subscript) else base
            by_name = isinstance(target, ast.Name) and target.id in imported_private
            by_attribute = (
                isinstance(target, ast.Attribute)
                and target.attr.startswith("_")
                and not target.attr.startswith("__")
            )
            if by_name or by_attribute:
                found.append((node.name, node.lineno, ast.unparse(base)))
    return sorted(found, key=lambda item: item[1])


# ---------------------------------------------------------------------------------------------
# Module size


def size_problem(source: str, limit: int = MAX_LINES) -> str | None:
    """Why this module is too long (None: it is not, or its docstring says why it stays one).

    A module over ``limit`` lines needs a paragraph in its module docstring that starts with
    ``Size:`` and goes on to give the reason.
    """
    lines = len(source.splitlines())
    if lines <= limit:
        return None
    docstring = ast.get_docstring(ast.parse(source)) or ""
    for paragraph in docstring.split("\n\n"):
        text = paragraph.strip()
        if text.startswith("Size:") and text.removeprefix("Size:").strip():
            return None
    return f"{lines} lines, and no 'Size:' paragraph in its module docstring says why"


# ---------------------------------------------------------------------------------------------
# CLI options


def cli_sources(package: Path = PACKAGE) -> list[Path]:
    """The CLI's source files: ``_cli.py`` and/or every file of the ``_cli`` package."""
    files = [package / "_cli.py"] if (package / "_cli.py").is_file() else []
    if (package / "_cli").is_dir():
        files += sorted((package / "_cli").rglob("*.py"))
    return files


def option_declarations(source: str) -> list[tuple[str, int]]:
    """Long option names declared by ``click.option(...)`` / ``option(...)`` calls, with lines.

    ``"--flag/--no-flag"`` declares both names; short names (``-V``) and the parameter's name
    (``"volumes"``) are not options of their own.
    """
    tree = ast.parse(source)
    click_option: set[str] = set()  # ``from click import option [as x]``
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "click":
            click_option |= {a.asname or a.name for a in node.names if a.name == "option"}
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_option = (
            isinstance(func, ast.Attribute)
            and func.attr == "option"
            and isinstance(func.value, ast.Name)
            and func.value.id == "click"
        ) or (isinstance(func, ast.Name) and func.id in click_option)
        if not is_option:
            continue
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                for name in arg.value.split("/"):
                    if name.strip().startswith("--"):
                        found.append((name.strip(), node.lineno))
    return sorted(found, key=lambda item: item[1])


def duplicate_options(sources: Mapping[str, str]) -> dict[str, list[str]]:
    """Long option names declared more than once across ``sources`` (label -> text), with
    where each declaration is (``label:line``)."""
    where: dict[str, list[str]] = {}
    for label, source in sources.items():
        for name, line in option_declarations(source):
            where.setdefault(name, []).append(f"{label}:{line}")
    return {name: places for name, places in sorted(where.items()) if len(places) > 1}


# ---------------------------------------------------------------------------------------------
# The checks on the package


@pytest.fixture(scope="module")
def package() -> dict[str, Module]:
    return read_package()


def test_no_import_cycles(package: dict[str, Module]) -> None:
    graph = import_graph(package)
    cycles = find_cycles(graph)
    files = {name: m.display for name, m in package.items()}
    if cycles:
        pytest.fail(
            f"{len(cycles)} import cycle(s) among the modules of seccompgen/:\n"
            + "\n".join(describe_cycle(c, graph, files) for c in cycles),
            pytrace=False,
        )


def test_no_private_base_class_from_another_module(package: dict[str, Module]) -> None:
    offenders = [
        f"  {m.display}:{line}: class {cls}({base})"
        for m in package.values()
        for cls, line, base in private_bases(m.source)
    ]
    if offenders:
        pytest.fail(
            "classes subclassing a private class of another module (make the base public, or "
            "keep the subclass in the base's module):\n" + "\n".join(offenders),
            pytrace=False,
        )


def test_modules_are_small_or_say_why(package: dict[str, Module]) -> None:
    offenders = [
        f"  {m.display}: {problem}"
        for m in package.values()
        if (problem := size_problem(m.source)) is not None
    ]
    if offenders:
        pytest.fail(
            f"modules over {MAX_LINES} lines (split them, or start a paragraph of the module "
            "docstring with 'Size:' saying why it stays one module):\n" + "\n".join(offenders),
            pytrace=False,
        )


def test_each_cli_option_declared_once() -> None:
    files = cli_sources()
    assert files, f"no CLI sources found under {PACKAGE}"
    sources = {
        path.relative_to(PACKAGE.parent).as_posix(): path.read_text(encoding="utf-8")
        for path in files
    }
    assert any(option_declarations(s) for s in sources.values()), "no click.option found"
    duplicates = duplicate_options(sources)
    if duplicates:
        pytest.fail(
            "CLI options declared more than once (declare each once and share it):\n"
            + "\n".join(f"  {name}: {', '.join(places)}" for name, places in duplicates.items()),
            pytrace=False,
        )


# ---------------------------------------------------------------------------------------------
# The checkers themselves, on synthetic sources

_PKG = ["p", "p.a", "p.b", "p.c", "p.sub", "p.sub.x", "p.sub.y"]


def test_import_edges_cover_every_kind_of_import() -> None:
    source = """\
from __future__ import annotations
import os
import p.a
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from p.b import Thing
def later():
    from p import c
    from p.sub import x, helper
    import importlib
    importlib.import_module("p.sub.y")
    from p.b import Thing
"""
    edges = import_edges(source, "p.sub.z", _PKG)
    # p.sub.x is a submodule; helper is not, so that import is an edge to p.sub (its __init__)
    assert edges == {
        "p.a": [3],
        "p.b": [6, 12],
        "p.c": [8],
        "p.sub": [9],
        "p.sub.x": [9],
        "p.sub.y": [11],
    }


def test_import_edges_resolve_relative_imports() -> None:
    assert import_edges("from . import y\nfrom .. import a\n", "p.sub.x", _PKG) == {
        "p.sub.y": [1],
        "p.a": [2],
    }
    # in a package's __init__, "." is the package itself
    assert import_edges("from . import x\n", "p.sub", _PKG, is_package=True) == {"p.sub.x": [1]}
    assert import_edges("from .a import f\n", "p.b", _PKG) == {"p.a": [1]}


def test_import_edges_of_a_package_name_and_a_missing_submodule() -> None:
    assert import_edges("import p.sub\n", "p.a", _PKG) == {"p.sub": [1]}
    assert import_edges("import p.sub.nothing\n", "p.a", _PKG) == {"p.sub": [1]}
    assert import_edges("from p.b import *\n", "p.a", _PKG) == {"p.b": [1]}
    assert import_edges("import p.a\n", "p.a", _PKG) == {}


def test_find_cycles_finds_a_cycle_and_says_where() -> None:
    graph = {
        "p.a": import_edges("import os\nfrom p.b import f\n", "p.a", _PKG),
        "p.b": import_edges("def g():\n    from p.c import h\n", "p.b", _PKG),
        "p.c": import_edges("from p import a\n", "p.c", _PKG),
    }
    cycles = find_cycles(graph)
    assert cycles == [["p.a", "p.b", "p.c", "p.a"]]
    assert describe_cycle(cycles[0], graph, {"p.a": "p/a.py", "p.b": "p/b.py"}) == (
        "p.a -> p.b -> p.c -> p.a\n"
        "    p/a.py:2 imports p.b\n"
        "    p/b.py:2 imports p.c\n"
        "    p.c:1 imports p.a"
    )


def test_find_cycles_lists_each_cycle_once() -> None:
    graph = {"a": {"b": [1]}, "b": {"a": [1], "c": [1]}, "c": {"b": [1]}, "d": {"d": [1]}}
    assert find_cycles(graph) == [["a", "b", "a"], ["b", "c", "b"], ["d", "d"]]


def test_find_cycles_passes_a_graph_without_one() -> None:
    # a diamond: two paths to the same module are not a cycle
    graph = {"a": {"b": [1], "c": [1]}, "b": {"d": [1]}, "c": {"d": [1]}, "d": {}}
    assert find_cycles(graph) == []


def test_private_bases_found_by_name_alias_and_attribute() -> None:
    source = """\
from p.a import _Session, _Other as Other, Public
from p import b
class _Local: ...
class Mine(_Local): ...
class S(_Session): ...
class O(Other): ...
class G(_Session[int]): ...
class A(b._Hidden): ...
class Fine(Public): ...
"""
    assert private_bases(source) == [
        ("S", 5, "_Session"),
        ("O", 6, "Other"),
        ("G", 7, "_Session[int]"),
        ("A", 8, "b._Hidden"),
    ]


def test_size_problem_and_the_size_paragraph() -> None:
    body = "x = 1\n" * 20
    assert size_problem('"""Short."""\n' + body, limit=30) is None
    assert size_problem('"""Long."""\n' + body, limit=10) == (
        "21 lines, and no 'Size:' paragraph in its module docstring says why"
    )
    explained = '"""Long.\n\nSize: one state machine; its parts share every field.\n"""\n'
    assert size_problem(explained + body, limit=10) is None
    # "Size:" must open a paragraph and give a reason
    assert size_problem('"""Long. Size: big.\n"""\n' + body, limit=10) is not None
    assert size_problem('"""Long.\n\nSize:\n"""\n' + body, limit=10) is not None


def test_duplicate_options_across_files() -> None:
    one = """\
import click
def shared(f):
    return click.option("--store", type=str)(f)
@click.option("-V", "--volume", "volumes", multiple=True)
@click.option("--verbose/--quiet")
def cmd(): ...
"""
    two = """\
from click import option as opt
@opt("--volume", "-V")
@opt("--other")
def cmd2(): ...
"""
    assert option_declarations(one) == [("--store", 3), ("--volume", 4), ("--verbose", 5),
                                        ("--quiet", 5)]  # fmt: skip
    assert duplicate_options({"one.py": one, "two.py": two}) == {
        "--volume": ["one.py:4", "two.py:2"]
    }
    assert duplicate_options({"one.py": one}) == {}
