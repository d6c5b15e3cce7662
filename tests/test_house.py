"""The house rules that keep the code easy to live in, checked on the source itself.

Imports go one way (``drone_ingest`` uses ``traceability``, never the reverse; FastAPI
only under ``traceability/api``; paho in one module, pika in one module; no two modules
import each other, directly or round a longer circle), and no function or module grows
past the size a reader can hold without a comment saying why it is long.
"""

import ast
import graphlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("traceability", "drone_ingest", "agritrace")
# Lines of a function without its docstring.
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 700
# A function or module may be longer when a comment right above it (or, for a module,
# in its first lines) starts with this and says why.
LONG_MARK = "# Long on purpose:"
# Modules longer than MAX_MODULE_LINES by design, with the reason; the module's own
# docstring says it too (checked below), so a reader of either finds why.
MODULE_SIZE_EXEMPT = {
    "traceability/models.py": (
        "the schema, read as one: every table and API body in one module that builds on "
        "nothing but config, gs1 and timezone (fastapi's full-stack template keeps one "
        "models.py); "
        "its families reference each other, so split by family they would import one another"
    ),
}


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in rel:
                yield rel, path.read_text(encoding="utf-8")


MODULES = dict(_modules())


def _imported(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_record_never_imports_the_road_in():
    offenders = [
        rel
        for rel, src in MODULES.items()
        if rel.startswith("traceability/") and "drone_ingest" in map(_top, _imported(src))
    ]
    assert offenders == []


def test_only_the_api_package_imports_the_web_framework():
    offenders = [
        rel
        for rel, src in MODULES.items()
        if not rel.startswith("traceability/api/")
        and {"fastapi", "starlette"} & set(map(_top, _imported(src)))
    ]
    assert offenders == []


def test_paho_is_imported_in_one_module():
    users = [rel for rel, src in MODULES.items() if "paho" in map(_top, _imported(src))]
    assert len(users) == 1, users


def test_the_amqp_client_is_imported_in_one_module():
    users = [rel for rel, src in MODULES.items() if "pika" in map(_top, _imported(src))]
    assert users == ["drone_ingest/amqp.py"]


def _module_name(rel: str) -> str:
    name = rel.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


NAMES = {_module_name(rel): rel for rel in MODULES}


def _ours(name: str) -> str | None:
    """The module of ours that importing ``name`` runs last: ``a.b.c`` when it is one of
    ours, else its nearest enclosing package of ours, else None."""
    while name and name not in NAMES:
        name = name.rpartition(".")[0]
    return name or None


def _edges(rel: str) -> set[str]:
    """Our modules that ``rel`` imports, anywhere in it (a function's own import too)."""
    me = _module_name(rel)
    package = me if rel.endswith("/__init__.py") else me.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(MODULES[rel])):
        if isinstance(node, ast.Import):
            out.update(_ours(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up from this module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                out.add(submodule if submodule in NAMES else _ours(base))
    return out - {None, me}


def import_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports in ``graph`` (module -> modules it imports), or None.

    >>> import_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    True
    >>> import_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}})[0] in "abc"
    True
    """
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as circle:
        return list(circle.args[1])
    return None


def test_the_import_graph_has_a_finder_that_finds_circles():
    # The rule below is only as good as its graph: these edges must be seen.
    assert "traceability.reports.common" in _edges("traceability/reports/missions.py")
    assert "traceability.models" in _edges("traceability/reports/common.py")
    assert import_circle({"x": {"y"}, "y": {"x"}}) in (["x", "y", "x"], ["y", "x", "y"])


def test_no_module_imports_round_a_circle():
    # A circle works only while its imports sit inside functions or in a lucky order,
    # and it makes two modules one that must be read together.
    graph = {_module_name(rel): _edges(rel) for rel in MODULES}
    assert import_circle(graph) is None


@pytest.mark.parametrize("rel", sorted(MODULE_SIZE_EXEMPT))
def test_a_module_exempt_from_the_size_rule_says_why(rel):
    docstring = ast.get_docstring(ast.parse(MODULES[rel])) or ""
    assert "Why one file past the house's size rule" in docstring, rel
    assert len(MODULES[rel].splitlines()) > MAX_MODULE_LINES, f"{rel} no longer needs it"


def _marked(lines: list[str], lineno: int) -> bool:
    """Whether the comment block right above line ``lineno`` (1-based) carries the mark."""
    i = lineno - 2
    while i >= 0 and lines[i].strip().startswith(("#", "@")):
        if lines[i].strip().startswith(LONG_MARK):
            return True
        i -= 1
    return False


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the function's docstring: documentation does not make code long."""
    first = node.body[0]
    is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    if is_doc and isinstance(first.value.value, str):
        return first.end_lineno - first.lineno + 1
    return 0


@pytest.mark.parametrize("rel", sorted(MODULES))
def test_functions_and_modules_stay_readable(rel):
    source = MODULES[rel]
    lines = source.splitlines()
    long = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
            if length > MAX_FUNCTION_LINES and not _marked(lines, first):
                long.append(f"{node.name} ({length} lines, line {node.lineno})")
    assert long == [], f"{rel}: split these or say why above them ({LONG_MARK} ...)"
    if rel not in MODULE_SIZE_EXEMPT and len(lines) > MAX_MODULE_LINES:
        assert any(line.startswith(LONG_MARK) for line in lines[:40]), (
            f"{rel} has {len(lines)} lines: split it or say why near its top"
        )


# ---------------------------------------------------------------- the page and word layer

PAGES = "traceability/api/pages.py"
ROUTES = "traceability/api/routes/"


def test_one_template_environment():
    makers = ("jinja2.Environment(", "Environment(", "Jinja2Templates(")
    offenders = [
        rel
        for rel, src in MODULES.items()
        if rel != PAGES and any(m in src for m in makers) and "jinja2" in src.lower()
    ]
    assert offenders == [], "templates are rendered through traceability.api.pages only"


def _locale_names(node: ast.Dict) -> bool:
    """A map of each language to its Babel locale (``{"vi": "vi_VN"}``) holds no words."""
    return all(
        isinstance(v, ast.Constant) and re.fullmatch(r"[a-z]{2}(_[A-Z]{2})?", str(v.value))
        for v in node.values
    )


def _word_tables(src: str) -> list[int]:
    """Lines of dict literals keyed by the page languages: a word table outside the catalogue."""
    lines = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"vi", "en"} <= keys and not _locale_names(node):
                lines.append(node.lineno)
    return lines


def test_no_word_tables_in_python():
    offenders = {rel: lines for rel, src in MODULES.items() if (lines := _word_tables(src))}
    assert offenders == {}, "words belong in traceability/locale/*/LC_MESSAGES/messages.po"


def test_the_word_table_check_sees_a_table():
    assert _word_tables('WORDS = {"save": {"vi": "Lưu", "en": "Save"}}') == [1]
    assert _word_tables('LANGS = ("vi", "en")') == []
    assert _word_tables('LOCALES = {"vi": "vi_VN", "en": "en"}') == []


def test_no_route_module_imports_another():
    offenders = {
        rel: sorted(n for n in _imported(src) if n.startswith("traceability.api.routes"))
        for rel, src in MODULES.items()
        if rel.startswith(ROUTES)
    }
    assert {rel: names for rel, names in offenders.items() if names} == {}
