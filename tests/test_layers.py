"""Layers point one way: the API and the admin call the services, the services queue tasks by name
and build warehouse backends through their own hosting, and the warehouse package reads no settings.
Read from the source's import statements (those inside functions too), so that an import hidden in
a function to dodge a cycle counts."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """The absolute names of the modules a file imports."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(filter(None, [base, node.module]))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def offending(folder: str, forbidden: tuple[str, ...], *, skip: tuple[str, ...] = (),
              root: Path = ROOT) -> dict[str, list[str]]:
    """{file: the forbidden modules it imports} (a module, or one inside it)."""
    found = {}
    for path in sorted((root / folder).rglob("*.py")):
        if path.name in skip or "migrations" in path.parts:
            continue
        bad = sorted(name for name in imports_of(path, root)
                     if any(name == f or name.startswith(f + ".") for f in forbidden))
        if bad:
            found[str(path.relative_to(root))] = bad
    return found


def test_services_import_neither_the_api_nor_the_tasks():
    assert offending("pipelines/services", ("pipelines.api", "pipelines.tasks", "pipelines.admin")) == {}


def test_the_api_reaches_the_warehouse_through_the_services():
    assert offending("pipelines/api", ("warehouse",)) == {}


def test_the_warehouse_reads_no_settings_and_calls_no_service():
    forbidden = ("django", "pipelines.services", "pipelines.conf", "pipelines.models", "pipelines.api")
    assert offending("warehouse", forbidden, skip=("apps.py",)) == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    """A relative import inside a function is found (else the tests above could not fail)."""
    probe = tmp_path / "pipelines" / "services" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("def f():\n    from ..tasks import execute_run_task\n    from django.conf import settings\n")
    assert offending("pipelines/services", ("pipelines.tasks", "django"), root=tmp_path) == {
        "pipelines/services/probe.py": ["django.conf", "django.conf.settings", "pipelines.tasks",
                                        "pipelines.tasks.execute_run_task"]}


def test_the_engine_names_every_writer_method_it_calls():
    """The engine's RowWriter protocol lists every method the engine calls on a writer, and the
    warehouse's IdentityWriter has them all (issue 22 item 5)."""
    import re

    from pipelines.engine import RowWriter
    from warehouse.writer import IdentityWriter

    source = (ROOT / "pipelines" / "engine.py").read_text()
    called = set(re.findall(r"\bwriter\.(\w+)\(", source)) | set(re.findall(r"\bw\.(\w+)\(", source))
    listed = {name for name in vars(RowWriter) if not name.startswith("_")}
    assert called and called <= listed, called - listed
    assert listed <= set(dir(IdentityWriter))
