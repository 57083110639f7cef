"""Progress bars of the long commands: on a terminal a tqdm bar with rate and time left; piped, or
with --quiet, nothing on stderr but the command's own lines."""

from __future__ import annotations

import io
import shutil
import sys

import pytest

from chestview.cli.main import main
from chestview.cli.progress import Progress, write_stderr


class FakeTerminal(io.StringIO):
    """A stderr that says it is a terminal (tqdm's test for drawing a bar)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _every_update_drawn(monkeypatch):
    import chestview.cli.progress

    monkeypatch.setattr(chestview.cli.progress, "MININTERVAL", 0)  # else a redraw at most every 0.1 s


@pytest.fixture
def images(tmp_path, test_data):
    src = tmp_path / "in"
    src.mkdir()
    for p in sorted((test_data / "nih" / "images").glob("*.png"))[:3]:
        shutil.copy(p, src)
    return src


def _predict(images, tmp_path, *extra):
    return main(["predict", str(images), "--no-images", "--workers", "0", "--out", str(tmp_path / "out"), *extra])


def test_predict_on_a_terminal_draws_a_bar_with_rate_and_time_left(tiny_zoo, images, tmp_path, monkeypatch, capsys):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert _predict(images, tmp_path) == 0
    drawn = terminal.getvalue()
    assert "\r" in drawn and "3/3" in drawn and "img/s" in drawn  # done/total and the rate
    assert "<" in drawn  # tqdm's "elapsed<left": the time left
    assert "\r" not in capsys.readouterr().out  # the table on stdout is untouched


def test_predict_piped_or_quiet_draws_nothing(tiny_zoo, images, tmp_path, monkeypatch, capsys):
    assert _predict(images, tmp_path) == 0  # capsys' stderr is no terminal: a pipe
    piped = capsys.readouterr()
    assert piped.err == "" and "\r" not in piped.out and "img/s" not in piped.out
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert _predict(images, tmp_path, "--quiet") == 0
    assert terminal.getvalue() == ""
    assert capsys.readouterr().out.splitlines()[1:] == piped.out.splitlines()[1:]


def test_worklist_draws_a_bar_for_the_images_it_runs(tiny_zoo, images, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["worklist", str(images), "--no-cache"]) == 0
    assert "3/3" in terminal.getvalue() and "img/s" in terminal.getvalue()


def test_a_bar_per_stage_and_messages_above_it(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with Progress("eval", enabled=True) as bar:
        bar.update(1, 4, "val")
        write_stderr("chestview: a.png: cannot read image")
        bar.update(4, 4, "val")
        bar.update(2, 10, "test")
    text = terminal.getvalue()
    assert "eval: val" in text and "eval: test" in text and "2/10" in text
    assert "\nchestview: a.png: cannot read image\n" in text.replace("\r", "\n")  # a line of its own
    with Progress(enabled=False) as off:
        off.update(1, 2, "x")
    assert off._bar is None


def test_fit_gate_draws_a_bar_per_split(tiny_zoo, test_data, tmp_path, monkeypatch, capsys):
    data = tmp_path / "nih"  # 60 of the small films: enough for a training and a validation split
    (data / "images").mkdir(parents=True)
    shutil.copy(test_data / "nih_64px" / "Data_Entry_2017_v2020.csv", data)  # rows without a file are skipped
    for p in sorted((test_data / "nih_64px" / "images").glob("*.png"))[:60]:
        shutil.copy(p, data / "images")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = main(["models", "fit-gate", str(tiny_zoo), "--data", f"nih:{data}", "--batch-size", "16"])
    drawn = terminal.getvalue()
    assert code == 0, drawn
    assert "train:" in drawn and "val:" in drawn and "img/s" in drawn
    assert "input gate of" in capsys.readouterr().out
