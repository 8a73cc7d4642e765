"""The package's shape: one concept per folder, imports pointing one way, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rtcstate

ROOT = Path(rtcstate.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports_at_import_time(path: Path) -> set[str]:
    """The rtcstate modules ``path`` imports when it is imported: module-level statements only
    (not function bodies, which import lazily, nor ``if TYPE_CHECKING:`` blocks)."""
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(statement.test):
                    visit(statement.body)
                visit(statement.orelse)
            elif isinstance(statement, ast.Try):
                visit(statement.body)
                for handler in statement.handlers:
                    visit(handler.body)
                visit(statement.orelse)
                visit(statement.finalbody)
            elif isinstance(statement, ast.For | ast.While | ast.With):
                visit(statement.body)
            elif isinstance(statement, ast.Import):
                found.update(alias.name for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom) and statement.module:
                for alias in statement.names:
                    full = f"{statement.module}.{alias.name}"
                    found.add(full if full in MODULES else statement.module)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {name for name in found if name in MODULES}


GRAPH = {name: _imports_at_import_time(path) - {name} for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == "open":
                cycles.append([*stack[stack.index(target):], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(GRAPH):
        if node not in state:
            walk(node)
    return cycles


def test_no_module_imports_itself_back_at_import_time() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    GRAPH["rtcstate.errors"].add("rtcstate.catalog")  # catalog imports errors: now a cycle
    try:
        assert ["rtcstate.catalog", "rtcstate.errors", "rtcstate.catalog"] in _cycles()
    finally:
        GRAPH["rtcstate.errors"].discard("rtcstate.catalog")


def _under(prefix: str) -> list[str]:
    return [name for name in MODULES if name == prefix or name.startswith(prefix + ".")]


@pytest.mark.parametrize(("importer", "forbidden"), [
    ("rtcstate.server", "rtcstate.adapters"),  # the server never needs a client adapter
    ("rtcstate.statemachines", "rtcstate.adapters"),  # machines never import adapters
    ("rtcstate.models", "rtcstate.adapters"),
    ("rtcstate.adapters", "rtcstate.demos"),
    ("rtcstate.adapters", "rtcstate.cli"),
    ("rtcstate.server", "rtcstate.cli"),
    ("rtcstate.demos", "rtcstate.cli"),
])
def test_imports_point_one_way(importer: str, forbidden: str) -> None:
    wrong = {name: sorted(target for target in GRAPH[name]
                          if target == forbidden or target.startswith(forbidden + "."))
             for name in _under(importer)}
    assert {name: targets for name, targets in wrong.items() if targets} == {}


def test_adapters_hold_only_client_adapters_and_their_protocols() -> None:
    assert sorted(_under("rtcstate.adapters")) == [
        "rtcstate.adapters", "rtcstate.adapters.aiortc", "rtcstate.adapters.aiortc.client",
        "rtcstate.adapters.aiortc.liveness", "rtcstate.adapters.aiortc.media",
        "rtcstate.adapters.aiortc.transport", "rtcstate.adapters.base",
        "rtcstate.adapters.connection", "rtcstate.adapters.janus", "rtcstate.adapters.janus.api",
        "rtcstate.adapters.janus.transport", "rtcstate.adapters.memory"]


def test_the_demo_stories_live_together() -> None:
    assert sorted(_under("rtcstate.demos")) == [
        "rtcstate.demos", "rtcstate.demos.aiortc", "rtcstate.demos.bot", "rtcstate.demos.janus",
        "rtcstate.demos.memory"]
