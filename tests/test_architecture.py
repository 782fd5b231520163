"""The folder tree is the architecture: these tests hold the layers to their rules.

They read every module under app/ (imports inside functions included, those under
`if TYPE_CHECKING:` aside) and fail on an import cycle and on an import that points the wrong
way; and no Python file of the project (app, tests, bench, migrations, scripts) passes 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
MAX_LINES = 400
ROOT_MODULES = {"__init__", "extensions", "commands", "worker", "tasks"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in APP.rglob("*.py")}


def _known(name: str) -> str | None:
    """The app module that `name` (a module or a name inside one) belongs to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for node in ast.walk(branch)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(t for alias in node.names if (t := _known(alias.name)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                target = _known(f"{base}.{alias.name}") or _known(base)
                if target:
                    found.add(target)
    found.discard(module)
    if path.name == "__init__.py" and module != "app":
        # A package re-exporting its own parts is not a cycle of design. The factory (app) is
        # not such a package: an import of it from below would be a real cycle.
        found = {t for t in found if not t.startswith(module + ".")}
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as a list of modules, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_walk_sees_imports_inside_functions():
    assert "app.tasks" in GRAPH["app"]  # create_app imports it inside register_jobs()


def test_no_module_of_app_is_part_of_an_import_cycle():
    assert find_cycle(GRAPH) is None


PROJECT = APP.parent
PYTHON_FILES = sorted(
    [
        *(
            path
            for folder in ("app", "tests", "bench", "migrations")
            for path in (PROJECT / folder).rglob("*.py")
        ),
        *PROJECT.glob("*.py"),
    ]
)


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda path: str(path.relative_to(PROJECT)))
def test_no_python_file_of_the_project_passes_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_app_itself_holds_only_the_factory_the_schema_the_worker_and_the_packages():
    loose = {path.stem for path in APP.glob("*.py")} - ROOT_MODULES
    assert loose == set()
    packages = {path.name for path in APP.iterdir() if (path / "__init__.py").exists()}
    assert packages == {"schema", "services", "web"}


def test_services_never_import_the_web_layer():
    for module, targets in GRAPH.items():
        if module.startswith("app.services"):
            assert not {t for t in targets if t.startswith("app.web")}, module


def test_the_job_runner_imports_no_service_and_not_the_factory():
    # errors.py is the vocabulary of refusals (QueueUnavailable is an Unavailable), not a service.
    allowed = {"app.extensions", "app.schema", "app.services.errors"}
    assert GRAPH["app.services.jobs"] <= allowed


def test_charts_depend_only_on_the_schema_storage_and_the_vocabulary():
    allowed = {"app.schema", "app.services.storage", "app.services.catalog", "app.services.errors"}
    allowed.add("app.services.charts.style")  # colours and sizes: it imports nothing of the app
    assert not {t for t in GRAPH["app.services.charts.style"] if t.startswith("app")}
    charts = [
        m for m in GRAPH if m == "app.services.charts" or m.startswith("app.services.charts.")
    ]
    for module in charts:
        outside = {t for t in GRAPH[module] if not t.startswith("app.services.charts")}
        assert outside <= allowed, module


def test_the_blueprints_never_import_one_another():
    blueprints = ("auth", "developer", "user", "api")
    for module, targets in GRAPH.items():
        own = next((b for b in blueprints if module.startswith(f"app.web.{b}")), None)
        if own is None:
            continue
        others = {
            t for t in targets for b in blueprints if b != own and t.startswith(f"app.web.{b}")
        }
        assert not others, module


def _imports_library(module: str, library: str) -> bool:
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == library for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == library:
            return True
    return False


def test_scikit_learn_appears_only_in_the_training_and_prediction_services():
    users = {m for m in MODULES if _imports_library(m, "sklearn")}
    allowed = ("app.services.training", "app.services.prediction")
    assert users and all(m.startswith(allowed) for m in users), sorted(users)


def test_matplotlib_appears_only_in_the_charts():
    users = {m for m in MODULES if _imports_library(m, "matplotlib")}
    assert users and all(m.startswith("app.services.charts") for m in users), sorted(users)


def test_the_schema_imports_nothing_but_the_extensions_and_itself():
    for module, targets in GRAPH.items():
        if module == "app.schema" or module.startswith("app.schema."):
            outside = {t for t in targets if not t.startswith("app.schema")}
            assert outside <= {"app.extensions"}, module
