"""No import cycles anywhere in the project (DESIGN.md §2, issue 12): the strongly connected
components of the module import graph — every import, lazy ones inside functions included,
since a lazy import is how a cycle hides — are single modules. ``TYPE_CHECKING`` imports are
left out: they never run."""

from __future__ import annotations

import grimp
import pytest

ROOTS = ("evidence", "integrity", "ledger", "cases", "access", "storage", "devices", "ingest",
         "jobs", "api")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:
        # iterative, so a deep graph cannot hit the recursion limit
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
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
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def project_graph() -> dict[str, set[str]]:
    built = grimp.build_graph(*ROOTS, exclude_type_checking_imports=True)
    return {m: set(built.find_modules_directly_imported_by(m)) for m in built.modules}


def test_the_project_has_no_import_cycles() -> None:
    graph = project_graph()
    assert len(graph) > 100  # the whole project was read
    assert cycles(graph) == []


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"a"}}, [["a"]]),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
])
def test_the_check_finds_what_it_looks_for(graph: dict[str, set[str]],
                                           expected: list[list[str]]) -> None:
    assert cycles(graph) == expected
