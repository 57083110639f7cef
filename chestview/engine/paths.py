"""Where chestview keeps user data (imported and trained models), caches and settings.

Everything goes under ``$CHESTVIEW_HOME`` when it is set (tests, portable installs), else in the
platform's usual places (platformdirs). The bundled models and samples are found inside an
installed wheel (``chestview/_bundled/``), else in the source tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "chestview"


def _home() -> Path | None:
    value = os.environ.get("CHESTVIEW_HOME")
    return Path(value) if value else None


def user_data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP, appauthor=False))


def user_cache_dir() -> Path:
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP, appauthor=False))


def user_config_dir() -> Path:
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP, appauthor=False))


def user_documents_dir() -> Path:
    """The default folder for the app's exports: the user's documents folder / chestview."""
    home = _home()
    return home / "documents" if home else Path(platformdirs.user_documents_dir()) / APP


def user_models_dir() -> Path:
    """Imported and trained models that are not bundled."""
    return user_data_dir() / "models"


def repo_root() -> Path:
    """The source tree (an editable install or a checkout): holds model_zoo/ and resources/."""
    return Path(__file__).resolve().parents[2]


def bundled_data_dir() -> Path:
    """Where a built wheel keeps the bundled files: ``chestview/_bundled/`` (mapped there at build time
    from the repository's top-level ``model_zoo/`` and ``resources/samples/``, see pyproject.toml)."""
    return Path(__file__).resolve().parents[1] / "_bundled"


def _bundled(override_env: str, in_wheel: str, in_repo: Path) -> Path:
    override = os.environ.get(override_env)
    if override:
        return Path(override)
    installed = bundled_data_dir() / in_wheel
    # An installed wheel has the copy inside the package; an editable install or a checkout has the
    # repository's folders next to the package.
    return installed if installed.is_dir() else in_repo


def bundled_zoo_dir() -> Path:
    """The models shipped with chestview; ``$CHESTVIEW_BUNDLED_ZOO`` points elsewhere (packagers, tests)."""
    return _bundled("CHESTVIEW_BUNDLED_ZOO", "model_zoo", repo_root() / "model_zoo")


def samples_dir() -> Path:
    """The bundled sample studies; ``$CHESTVIEW_SAMPLES`` points elsewhere."""
    return _bundled("CHESTVIEW_SAMPLES", "samples", repo_root() / "resources" / "samples")
