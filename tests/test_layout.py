"""The code's shape, checked: no import cycle between files, files stay small, one job each.

The layer contracts themselves (imports point down; Streamlit only in ``issc.ui``) are
import-linter's, in ``pyproject.toml``; ``make test`` runs ``lint-imports``.
"""

from __future__ import annotations

import ast

import grimp
from conftest import ROOT

MAX_LINES = 450


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), i.e. import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_between_files() -> None:
    graph = grimp.build_graph("issc")
    assert _cycles(graph) == []


def test_no_file_under_issc_is_over_450_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "issc").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_module_opens_with_a_docstring() -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "issc").rglob("*.py"))
        if p.read_text().strip() and ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert missing == []


def test_streamlit_is_imported_only_by_the_app_the_pages_and_issc_ui() -> None:
    importers = []
    for path in [*ROOT.glob("*.py"), *(ROOT / "issc").rglob("*.py"), *(ROOT / "pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"streamlit", "streamlit_webrtc"} for n in names):
                importers.append(path.relative_to(ROOT))
                break
    allowed = [p for p in importers if p.parts[0] == "pages" or p.parts[:2] == ("issc", "ui")]
    assert sorted(map(str, set(importers) - set(allowed))) == ["app.py"]
