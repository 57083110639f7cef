"""Where chestview keeps user data (imported and trained models), caches and settings.

Everything goes under ``$CHESTVIEW_HOME`` when it is set (tests, portable installs), else in the
platform's usual places (platformdirs).
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


def user_models_dir() -> Path:
    """Imported and trained models that are not bundled."""
    return user_data_dir() / "models"


def repo_root() -> Path:
    """The source tree (an editable install): holds model_zoo/ and resources/."""
    return Path(__file__).resolve().parents[2]


def bundled_zoo_dir() -> Path:
    """The models shipped with chestview; ``$CHESTVIEW_BUNDLED_ZOO`` points elsewhere (packagers, tests)."""
    override = os.environ.get("CHESTVIEW_BUNDLED_ZOO")
    return Path(override) if override else repo_root() / "model_zoo"


def samples_dir() -> Path:
    return repo_root() / "resources" / "samples"
