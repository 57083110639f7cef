"""The ``chestview`` entry point itself: --version, a closed pipe, a machine without a display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import chestview
from chestview.cli import main as cli_main
from chestview.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"chestview {chestview.__version__}"


def test_output_into_a_closed_pipe_ends_quietly():
    """``chestview models --json | head``: the reader goes away after a few bytes."""
    env = {k: v for k, v in os.environ.items() if k not in ("CHESTVIEW_BUNDLED_ZOO", "CHESTVIEW_ZOO_PATH")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "chestview", "models", "--json"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.read(64)
    proc.stdout.close()  # what head does once it has its lines
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.startswith(b"[")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 141  # 128 + SIGPIPE, as for a shell tool cut off by head


def test_the_output_is_bigger_than_a_pipe_buffer(monkeypatch, capsys):
    """So the test above really cuts the output short (a pipe holds 64 KiB)."""
    monkeypatch.delenv("CHESTVIEW_BUNDLED_ZOO", raising=False)
    monkeypatch.delenv("CHESTVIEW_ZOO_PATH", raising=False)
    assert main(["models", "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.encode()) > 65536 and out.rstrip().endswith("]")


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="Qt always has a display there")
def test_no_display_says_how_to_run_headless(monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    started = []
    monkeypatch.setattr("chestview.gui.app.run_app", lambda *a, **k: started.append(a) or 0)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chestview: error: no display")
    assert "QT_QPA_PLATFORM=offscreen" in err and "--screenshot" in err
    assert started == []  # the app was never started, so Qt could not abort


def test_a_display_or_a_platform_plugin_lets_the_app_start(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not cli_main.no_display()
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert not cli_main.no_display()


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="Qt always has a display there")
def test_screenshot_needs_no_display(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    calls = []
    monkeypatch.setattr("chestview.gui.app.run_app", lambda paths, **k: calls.append(k["screenshot"]) or 0)
    assert main(["--screenshot", "shot.png"]) == 0  # run_app renders offscreen by itself
    assert calls == ["shot.png"]
