"""The module boundaries the code relies on, checked so they stay."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service"


def _imports(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


# Each package may import only those before it (and service.settings, the version).
LAYERS = ("exchange", "telemetry", "server", "cloud", "echo", "httpbin", "calls", "inspector")
TOP = {"__init__.py", "app.py", "settings", "wsgi.py"}


def test_what_the_server_package_imports_does_not_import_flask() -> None:
    # gunicorn's master does load Flask, on purpose, in config/gunicorn.conf.py (preloaded
    # for its workers, tests/unit/test_startup.py); the server package itself stays without.
    code = (
        "import sys, service.server.logconfig, service.server.worker, service.server.trailers, "
        "service.telemetry.promfiles, service.settings; print('flask' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVICE.parent, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_service_holds_the_wiring_and_one_package_per_concern() -> None:
    entries = {path.name for path in SERVICE.iterdir() if path.name != "__pycache__"}
    assert entries == TOP | set(LAYERS)
    for package in LAYERS:
        doc = ast.get_docstring(ast.parse((SERVICE / package / "__init__.py").read_text()))
        assert doc and "May import:" in doc, package


def test_no_package_imports_one_above_it() -> None:
    for module in SERVICE.rglob("*.py"):
        package = module.relative_to(SERVICE).parts[0]
        if package in TOP - {"settings"}:
            continue
        layers = LAYERS[: LAYERS.index(package) + 1] if package in LAYERS else ()
        allowed = {*layers, "settings"}  # settings itself imports nothing else of service
        for name in _imports(module):
            parts = name.split(".")
            if parts[0] == "service" and len(parts) > 1 and parts[1] not in {"__version__"}:
                assert parts[1] in allowed, f"{module.relative_to(SERVICE)} imports {name}"


def test_the_core_imports_no_flask_where_the_finishers_read_it() -> None:
    imported = _imports(SERVICE / "exchange" / "outcome.py")
    assert not any(name.startswith(("flask", "werkzeug")) for name in imported)


def test_finishers_never_import_a_view_or_a_feature() -> None:
    for module in (SERVICE / "telemetry").glob("*.py"):
        imported = _imports(module)
        assert not any(name.startswith(("service.echo", "service.calls")) for name in imported)


def test_no_module_is_over_250_lines() -> None:
    for module in SERVICE.rglob("*.py"):
        lines = len(module.read_text().splitlines())
        assert lines <= 250, f"{module.relative_to(SERVICE)} has {lines} lines"


def test_no_private_name_of_a_library_is_used() -> None:
    private = re.compile(
        # (`_logs` and the exporters' `_log_exporter` are the logs signal's documented
        # API: Python's SDK has no other while it is in development.)
        r"opentelemetry[\w.]*\._(?!logs\b|log_exporter\b)\w+|\b_original_wsgi_app\b|\._resource\b|_KNOWN_SAMPLERS|"
        r"_get_header_value|_OpenTelemetry\w+"
    )
    inherited = re.compile(r"self\._(client|shutdown)\b")  # an SDK exporter's own state
    for module in SERVICE.rglob("*.py"):
        text = module.read_text()
        assert not private.findall(text), module.relative_to(SERVICE)
        if "opentelemetry.exporter" in text:
            assert not inherited.findall(text), module.relative_to(SERVICE)


def test_only_the_entry_points_write_the_environment() -> None:
    writes = re.compile(r"os\.environ(\[[^]]*\]\s*=|\.(setdefault|update|pop|clear)\()|putenv")
    for module in SERVICE.rglob("*.py"):
        assert not writes.search(module.read_text()), module.name


def test_no_function_in_service_is_over_60_lines() -> None:
    for module in SERVICE.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= 60, f"{module.name}:{node.name} is {length} lines"


def test_the_exchange_is_written_only_through_the_cores_own_functions() -> None:
    writes = re.compile(r"\b(current|exchange|pipeline\.current\(\))\.\w+\s*=[^=]")
    for module in SERVICE.rglob("*.py"):
        if module.parent.name != "exchange":
            assert not writes.search(module.read_text()), module.relative_to(SERVICE)
