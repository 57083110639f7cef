"""The built sdist and wheel hold what users need: the package, every bundled model (card, weights,
eval reports) and DEFAULT, and the samples; and an installed copy finds them from any folder.

The list of models is read from model_zoo/, so a newly bundled model is checked without editing
this file. The wheel is built from the sdist (what `python -m build` does), so a file the sdist
lacks shows up as a file the wheel lacks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "model_zoo"
SAMPLES = REPO / "resources" / "samples"
IN_WHEEL = "chestview/_bundled"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def bundled_models() -> list[Path]:
    return sorted(p.parent for p in ZOO.glob("*/card.json"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("build")
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the [test] extra installs the backend, and nothing is downloaded here
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = out.glob("chestview-*.tar.gz")
    (wheel,) = out.glob("chestview-*.whl")
    return sdist, wheel


def test_wheel_holds_every_bundled_model_and_the_samples(built):
    _, wheel = built
    models = bundled_models()
    assert models, "model_zoo/ has no model"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())

        def data(name: str) -> bytes:
            assert name in names, f"{wheel.name} lacks {name}"
            return zf.read(name)

        assert data(f"{IN_WHEEL}/model_zoo/DEFAULT") == (ZOO / "DEFAULT").read_bytes()
        for model in models:
            card = json.loads(data(f"{IN_WHEEL}/model_zoo/{model.name}/card.json"))
            assert card["id"] == model.name
            weights = data(f"{IN_WHEEL}/model_zoo/{model.name}/{card['weights']}")
            assert hashlib.sha256(weights).hexdigest() == card["sha256"]  # the real file, not a pointer
            reports = _files(model / "eval")
            assert any(p.name == "report.json" for p in reports), f"{model.name} has no eval report"
            for path in reports:
                assert data(f"{IN_WHEEL}/model_zoo/{path.relative_to(ZOO).as_posix()}") == path.read_bytes()
        samples = _files(SAMPLES)
        assert sum(p.suffix == ".dcm" for p in samples) >= 3 and sum(p.suffix == ".png" for p in samples) >= 4
        for path in samples:
            assert data(f"{IN_WHEEL}/samples/{path.relative_to(SAMPLES).as_posix()}") == path.read_bytes()
        for path in _files(REPO / "chestview"):
            data(path.relative_to(REPO).as_posix())
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "chestview = chestview.cli.main:main" in zf.read(entry_points).decode()


def test_sdist_holds_the_sources_the_wheel_is_built_from(built):
    sdist, _ = built
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for required in ("pyproject.toml", "README.md", "model_zoo/DEFAULT", "tests/conftest.py"):
        assert required in names
    for model in bundled_models():
        assert f"model_zoo/{model.name}/card.json" in names


def test_the_licence_declared_is_the_licence_shipped(built):
    import tomllib

    sdist, wheel = built
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
    assert "Apache-2.0" in str(declared)
    text = (REPO / "LICENSE").read_bytes()
    assert b"Apache License\n                           Version 2.0, January 2004" in text
    assert b"END OF TERMS AND CONDITIONS" in text  # the full text, not a pointer to it
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert zf.read(name) == text
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        assert "License-File: LICENSE" in metadata
    with tarfile.open(sdist) as tf:
        member = next(m for m in tf.getmembers() if m.name.split("/", 1)[-1] == "LICENSE")
        assert tf.extractfile(member).read() == text


def test_an_installed_wheel_finds_its_models_and_samples_from_any_folder(built, tmp_path):
    _, wheel = built
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)  # a wheel is installed by unpacking it (pip adds only the scripts and RECORD)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHESTVIEW_") or k == "CHESTVIEW_HOME"}
    env["PYTHONPATH"] = str(site)
    code = (
        "import json, chestview\n"
        "from chestview.engine import paths\n"
        "from chestview.engine.zoo import default_model_id, list_zoo\n"
        "print(json.dumps({'package': chestview.__file__, 'zoo': str(paths.bundled_zoo_dir()),\n"
        "  'samples': str(paths.samples_dir()), 'default': default_model_id(),\n"
        "  'bundled': sorted(e.card.id for e in list_zoo() if e.bundled)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert Path(found["package"]).is_relative_to(site)
    assert Path(found["zoo"]) == site / IN_WHEEL / "model_zoo"
    assert Path(found["samples"]) == site / IN_WHEEL / "samples"
    assert found["bundled"] == [m.name for m in bundled_models()]
    assert found["default"] == (ZOO / "DEFAULT").read_text().strip()
