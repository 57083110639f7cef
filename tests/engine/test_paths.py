"""Where the bundled models and samples are found: a checkout or editable install here; an installed
wheel is checked in tests/test_packaging.py; the environment overrides win over both."""

from pathlib import Path

from chestview.engine import paths

REPO = Path(__file__).resolve().parents[2]


def test_a_checkout_reads_the_repository_folders(monkeypatch):
    monkeypatch.delenv("CHESTVIEW_BUNDLED_ZOO", raising=False)
    monkeypatch.delenv("CHESTVIEW_SAMPLES", raising=False)
    assert not paths.bundled_data_dir().exists()  # only a built wheel has chestview/_bundled
    assert paths.bundled_zoo_dir() == REPO / "model_zoo"
    assert paths.samples_dir() == REPO / "resources" / "samples"
    assert (paths.bundled_zoo_dir() / "DEFAULT").is_file() and any(paths.samples_dir().glob("*.dcm"))


def test_environment_overrides_win(monkeypatch, tmp_path):
    monkeypatch.setenv("CHESTVIEW_BUNDLED_ZOO", str(tmp_path / "zoo"))
    monkeypatch.setenv("CHESTVIEW_SAMPLES", str(tmp_path / "samples"))
    assert paths.bundled_zoo_dir() == tmp_path / "zoo"
    assert paths.samples_dir() == tmp_path / "samples"


def test_an_installed_copy_wins_over_the_source_tree(monkeypatch, tmp_path):
    monkeypatch.delenv("CHESTVIEW_BUNDLED_ZOO", raising=False)
    monkeypatch.delenv("CHESTVIEW_SAMPLES", raising=False)
    (tmp_path / "model_zoo").mkdir()
    monkeypatch.setattr(paths, "bundled_data_dir", lambda: tmp_path)
    assert paths.bundled_zoo_dir() == tmp_path / "model_zoo"
    assert paths.samples_dir() == REPO / "resources" / "samples"  # no installed copy of these: the tree's
