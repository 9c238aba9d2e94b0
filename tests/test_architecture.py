"""The shape of the code, checked: one direction of imports, no import cycle, SpiffWorkflow in one
package, no import hidden inside a function of the domain, and no module over 400 lines."""

import ast
from pathlib import Path

import grimp
import pytest

APP = Path(__file__).resolve().parent.parent / "app"

MAX_LINES = 400


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("app", include_external_packages=True)


def _cycles(graph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules)))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_of_app_has_no_cycle(graph):
    modules = {m for m in graph.modules if m == "app" or m.startswith("app.")}
    assert _cycles(graph, modules) == []


def test_the_cycle_check_finds_a_cycle(graph):
    # The check itself can fail: a cycle made on a copy of the graph is found.
    graph = graph.copy() if hasattr(graph, "copy") else grimp.build_graph("app")
    graph.add_import(importer="app.domain.errors", imported="app.domain.audit")
    graph.add_import(importer="app.domain.audit", imported="app.domain.errors")
    assert ["app.domain.audit", "app.domain.errors"] in _cycles(
        graph, {"app.domain.audit", "app.domain.errors"}
    )


def test_imports_go_one_way_http_then_domain_then_engine_and_database(graph):
    for lower in ("app.domain", "app.engine", "app.db"):
        for upper in ("app.api", "app.web", "app.main", "app.cli", "app.worker"):
            chain = graph.find_shortest_chain(importer=lower, imported=upper, as_packages=True)
            assert chain is None, f"{lower} reaches {upper}: {' -> '.join(chain)}"


def test_spiffworkflow_is_imported_by_the_engine_package_only(graph):
    importers = graph.find_modules_that_directly_import("SpiffWorkflow")
    assert importers and all(m.startswith("app.engine.") for m in importers), importers


def test_the_domain_imports_nothing_inside_functions():
    """An import inside a function hides a dependency (or a cycle); the domain has none."""
    found = []
    for path in sorted((APP / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [
                    f"{path.relative_to(APP.parent)}:{inner.lineno}"
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Import | ast.ImportFrom)
                ]
    assert found == []


def test_no_module_is_longer_than_can_be_read_in_one_sitting():
    sizes = {
        str(path.relative_to(APP.parent)): len(path.read_text().splitlines()) for path in APP.rglob("*.py")
    }
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}, "split these modules"
