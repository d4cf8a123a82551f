"""The project's layout holds: no module takes part in an import circle, every app imports
only the apps below it (the README's layout section gives the order), and no app grows to
hold more than a third of the code.

Imports are read from the source (ast), so an import inside a function counts as much as
one at the top of a module. Migrations, tests and benchmarks are not part of the layers.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: each may import those before it, never those after it.
LAYERS = [
    "core",
    "accounts",
    "notifications",
    "clients",
    "contracts",
    "assistants",
    "tasks",
    "billing",
    "reports",
    "va_agency",
]
# A development and test tool: it imports nothing of the project, nothing imports it.
STANDALONE = ["stripe_test_server"]
SKIPPED_DIRS = {"migrations", "tests", "bench", "__pycache__"}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in [*LAYERS, *STANDALONE]:
        for path in (ROOT / package).rglob("*.py"):
            if SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = project_modules()


def _known(name: str) -> str | None:
    """The project module an imported name lives in (a package's own module when the name
    is one of its attributes), or None for anything outside the project."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> dict[str, int]:
    """Project modules `module` imports, anywhere in its source, with a line for each."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for target in targets:
            known = _known(target)
            if known and known != module:
                found.setdefault(known, node.lineno)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def app_of(module: str) -> str:
    return module.split(".")[0]


def test_the_walk_sees_the_whole_project():
    # A walk that found nothing would pass every check below.
    assert {app_of(module) for module in MODULES} == set(LAYERS + STANDALONE)
    assert len(MODULES) > 100
    assert "billing.charges" in GRAPH["billing.jobs"]
    # Function-level imports are read too (va_agency.settings imports nothing; the
    # billing app's ready() imports its own hooks' targets inside a method).
    assert "billing.jobs" in GRAPH["billing.apps"]


def test_no_module_takes_part_in_an_import_circle():
    circles = []
    # Tarjan's strongly connected components: any with two or more modules is a circle.
    index, low, stack, on_stack, counter = {}, {}, [], set(), [0]

    def visit(module):
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert circles == [], "modules that import each other in a circle: " + "; ".join(
        " <-> ".join(circle) for circle in circles
    )


def test_apps_import_only_the_apps_below_them():
    rank = {app: position for position, app in enumerate(LAYERS)}
    upward = []
    for module, targets in sorted(GRAPH.items()):
        for target, line in sorted(targets.items()):
            source_app, target_app = app_of(module), app_of(target)
            if source_app == target_app:
                continue
            if (
                source_app in STANDALONE
                or target_app in STANDALONE
                or rank[target_app] > rank[source_app]
            ):
                upward.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}")
    assert upward == [], "imports against the layers:\n" + "\n".join(upward)


def test_the_readme_states_the_same_layers():
    readme = (ROOT / "README.md").read_text()
    assert " ← ".join(LAYERS) in readme


def lines_of(directory: Path) -> int:
    return sum(
        len(path.read_text().splitlines())
        for path in directory.rglob("*.py")
        if "migrations" not in path.parts
    )


def test_no_app_holds_more_than_a_third_of_the_code():
    folders = [path for path in ROOT.iterdir() if path.is_dir() and (path / "__init__.py").exists()]
    sizes = {path.name: lines_of(path) for path in folders if path.name != "tests"}
    total = sum(sizes.values())
    assert total > 10_000  # the walk found the code
    too_big = {name: size for name, size in sizes.items() if size * 3 > total}
    assert too_big == {}, f"{too_big} of {total} lines"


def test_nothing_reads_outside_the_repository():
    files = [*MODULES.values(), *(ROOT / "bench").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    files += [ROOT / name for name in ("Makefile", "Procfile.dev", "docker-compose.yml")]
    files += list((ROOT / ".ci").iterdir())
    outside = "../" + "shared"
    assert [str(path) for path in files if outside in path.read_text()] == []
