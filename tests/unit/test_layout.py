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


def test_what_gunicorns_master_imports_does_not_import_flask() -> None:
    code = "import sys, service.logconfig, service.settings; print('flask' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVICE.parent, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_finishers_never_import_a_view() -> None:
    for name in ("logs", "metrics", "tracing", "logfields", "record", "exchange"):
        imported = _imports(SERVICE / f"{name}.py")
        assert "service.echo" not in imported, name
        assert "service.control" not in imported, name


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
