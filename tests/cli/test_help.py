"""Every command's --help renders (argparse expands % in help strings: a stray one breaks --help)."""

import pytest

from chestview.cli.main import main

COMMANDS = [[], ["predict"], ["models"], ["models", "show"], ["models", "import"], ["models", "fetch"],
            ["models", "publish"], ["models", "fit-gate"], ["worklist"], ["bench"], ["train"], ["eval"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "chestview")
def test_help_renders(command, capsys):
    try:
        code = main([*command, "--help"])
    except SystemExit as exc:  # argparse's own --help
        code = exc.code
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: chestview") and "--help" in out
