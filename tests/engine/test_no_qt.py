"""The engine must never import Qt: it runs in CLIs, servers and DataLoader workers."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import chestview.engine as engine
failed = []
for mod in pkgutil.walk_packages(engine.__path__, prefix="chestview.engine."):
    try:
        importlib.import_module(mod.name)
    except ImportError as exc:  # a module still being written must not hide Qt imports of others
        failed.append(f"{mod.name}: {exc}")
qt = sorted(m for m in sys.modules if m.split(".")[0] in {"PySide6", "shiboken6", "pyqtgraph", "superqt"})
print("QT:" + ",".join(qt))
for line in failed:
    print("IMPORT-FAILED:" + line)
"""


def test_engine_imports_no_qt() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    qt_line = next(line for line in out.stdout.splitlines() if line.startswith("QT:"))
    assert qt_line == "QT:", f"Qt modules imported by the engine: {qt_line[3:]}"
