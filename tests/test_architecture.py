"""The house of the package (docs/architecture.md), checked on the imports of its source.

Every ``import`` / ``from … import`` of every module under src/schoolmap is read with ``ast``
(lazy imports inside functions too) and checked against the rooms:

    ground      errors, norms, i18n, io/, importers/, _kernels/, testing
    demand      demand/          (reads ground)
    allocation  allocation/      (reads demand and ground)
    planning    planning/        (reads allocation, demand and ground)
    present     present/         (reads results: i18n, norms, errors and io.crs only)
    run         run/             (reads everything)

Old module paths (``schoolmap.maps``, ``schoolmap.scenario``, …) are thin re-exports kept for
users; they and the package's ``__init__``/``__main__`` stand outside the rooms.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "schoolmap"

#: Old paths of moved modules: re-exports only (``schoolmap._compat.reexport``).
SHIMS = {"schoolmap.maps", "schoolmap.catchments", "schoolmap.capacity", "schoolmap.simulation",
         "schoolmap.siting", "schoolmap.site_planning", "schoolmap.forecast", "schoolmap.report",
         "schoolmap.scenario", "schoolmap.outputs", "schoolmap.distributed", "schoolmap.cli",
         "schoolmap.backtest", "schoolmap.optimal", "schoolmap._compat"}
#: The package's front door: re-exports the public API, runs the command line.
TOP = {"schoolmap", "schoolmap.__main__"}
#: Modules not yet in their room (none).
TEMPORARY: dict[str, str] = {}

ROOMS = ("ground", "demand", "allocation", "planning", "present", "run")
#: What each room may import (besides itself).
MAY_IMPORT = {
    "ground": {"ground"},
    "demand": {"ground"},
    "allocation": {"ground", "demand"},
    "planning": {"ground", "demand", "allocation"},
    "present": {"ground"},
    "run": {"ground", "demand", "allocation", "planning", "present"},
}
#: The only ground-floor modules present/ reads (names, norms, errors, display coordinates).
PRESENT_READS = {"schoolmap.i18n", "schoolmap.norms", "schoolmap.errors", "schoolmap.io.crs"}
#: Drawing libraries: only present/ imports them.
DRAWING = ("folium", "branca", "jinja2", "matplotlib", "xstatic")
MAX_LINES = 800


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _room(module: str) -> str | None:
    if module in SHIMS or module in TOP:
        return None
    if module in TEMPORARY:
        return TEMPORARY[module]
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ROOMS[1:]:
        return parts[1]
    return "ground"


@functools.cache
def _imports(module: str) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) of every import in ``module``; ``from pkg
    import sub`` names the submodule ``pkg.sub`` when there is one."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub, "", node.lineno) if sub in MODULES else
                           (base, a.name, node.lineno))
    return out


def _internal(target: str) -> str | None:
    """The schoolmap module an import refers to (the longest known prefix), or None."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in MODULES:
            return name
        parts.pop()
    return None


@functools.cache
def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, name, _ in _imports(module):
            dep = _internal(target)
            if dep is None or dep == module or (dep == "schoolmap" and name == "__version__"):
                continue
            graph[module].add(dep)
    return graph


def test_every_module_has_a_room():
    assert {m for m in MODULES if _room(m) is None} == (SHIMS | TOP) & set(MODULES)


def test_kernels_import_only_numpy_and_numba():
    bad = []
    for module in MODULES:
        if not module.startswith("schoolmap._kernels"):
            continue
        for target, _, line in _imports(module):
            top = target.split(".")[0]
            if top in {"numpy", "numba", "__future__"} or target.startswith("schoolmap._kernels"):
                continue
            bad.append(f"{module}:{line} imports {target}")
    assert bad == []


@pytest.mark.parametrize("room", ROOMS)
def test_rooms_import_only_the_rooms_below(room):
    bad = []
    for module in MODULES:
        if _room(module) != room:
            continue
        for dep in sorted(_edges()[module]):
            dep_room = _room(dep)
            if dep_room is None:
                if dep in TOP or dep in SHIMS:
                    bad.append(f"{module} imports {dep} (an old path or the front door)")
                continue
            if dep_room != room and dep_room not in MAY_IMPORT[room]:
                bad.append(f"{module} ({room}) imports {dep} ({dep_room})")
    assert bad == []


def test_nothing_below_run_imports_run():
    bad = [f"{m} imports {d}" for m, deps in _edges().items() for d in deps
           if d.startswith("schoolmap.run") and _room(m) not in (None, "run")]
    assert bad == []


def test_present_reads_results_and_computes_nothing():
    """present/ imports no computing room: what it shows arrives as tables (proposed catchments
    are computed once, in allocation/, and passed in)."""
    bad = []
    for module in MODULES:
        if _room(module) != "present":
            continue
        for dep in _edges()[module]:
            if _room(dep) == "ground" and dep not in PRESENT_READS:
                bad.append(f"{module} imports {dep}")
    assert bad == []


def test_only_present_draws_and_dask_code_draws_nothing():
    bad = []
    for module in MODULES:
        if _room(module) in ("present", None):
            continue
        for target, _, line in _imports(module):
            if target.split(".")[0] in DRAWING:
                bad.append(f"{module}:{line} imports {target}")
    text = MODULES["schoolmap.run.distributed"].read_text(encoding="utf-8")
    for page in ("<!DOCTYPE", "<html", "L.map(", "<style"):
        if page in text:
            bad.append(f"schoolmap.run.distributed writes {page!r}: pages belong in present/")
    assert bad == []


def test_no_module_imports_private_names_of_another():
    """``_name`` stays in its module; a ``_module`` stays in its package (``_kernels`` is the
    kernel door, open to every wrapper)."""
    bad = []
    for module in MODULES:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for target, name, line in _imports(module):
            if not target.startswith("schoolmap"):
                continue
            if name.startswith("_") and name != "__version__":
                bad.append(f"{module}:{line} imports {name} from {target}")
            private = [p for p in target.split(".") if p.startswith("_")]
            if private and not target.startswith("schoolmap._kernels") and module not in SHIMS:
                owner = target[: target.index("." + private[0])]
                if not (package == owner or package.startswith(owner + ".")):
                    bad.append(f"{module}:{line} imports {target}, private to {owner}")
    assert bad == []


def test_no_import_cycle():
    graph = _edges()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def visit(module: str, stack: list[str]) -> None:
        seen[module] = 1
        for dep in sorted(graph[module]):
            if seen.get(dep) == 1:
                cycles.append(" → ".join([*stack[stack.index(dep):], dep]))
            elif dep not in seen:
                visit(dep, [*stack, dep])
        seen[module] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module, [module])
    assert cycles == []


def test_no_module_over_800_lines():
    long = {m: n for m, p in MODULES.items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_old_paths_still_import_their_public_names():
    import importlib

    for old, new, names in [
        ("schoolmap.maps", "schoolmap.present.maps", ["shortfall_map", "render_result_map",
                                                      "write_map"]),
        ("schoolmap.maps", "schoolmap.present.maps.style", ["UTILISATION_COLOURS"]),
        ("schoolmap.scenario", "schoolmap.run.scenario", ["Scenario", "run_scenario",
                                                          "load_scenario", "LANGS"]),
        ("schoolmap.forecast", "schoolmap.demand.forecast", ["forecast_residents",
                                                             "ForecastSettings"]),
        ("schoolmap.siting", "schoolmap.planning.siting.models", ["p_median", "mclp"]),
        ("schoolmap.catchments", "schoolmap.allocation.catchments", ["proposed_catchments"]),
    ]:
        before, after = importlib.import_module(old), importlib.import_module(new)
        for name in names:
            assert getattr(before, name) is getattr(after, name), (old, name)
    from schoolmap.allocation import allocate_nearest, assign, transport  # noqa: F401
    from schoolmap.cli import main  # noqa: F401  (the console script's entry point)
    from schoolmap.scenario import allocate, district_xy  # noqa: F401
