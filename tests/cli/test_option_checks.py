"""The shared option checks (cli.common.at_least / between) word each limit as the commands always did."""

from __future__ import annotations

import pytest

from chestview.cli.common import at_least, between


@pytest.mark.parametrize("check, message", [
    (lambda: at_least("--batch-size", 0, 1), "--batch-size must be at least 1 (got 0)"),
    (lambda: at_least("--workers", -1, 0), "--workers must be at least 0 (got -1)"),
    (lambda: at_least("--workers", -2, 0, note="0: decode on the main thread"),
     "--workers must be at least 0 (0: decode on the main thread; got -2)"),
    (lambda: at_least("--bootstrap", -5, 0, note="0: no intervals"), "--bootstrap must be at least 0 (0: no intervals; got -5)"),
    (lambda: between("--heatmap-threshold", 0, 1, 255), "--heatmap-threshold must be between 1 and 255 (got 0)"),
    (lambda: between("--box-threshold", 300, 1, 255, what="a heatmap level"),
     "--box-threshold must be a heatmap level between 1 and 255 (got 300)"),
])
def test_a_value_out_of_range_is_one_usage_line(check, message, capsys):
    assert check() is False
    assert capsys.readouterr().err == f"chestview: error: {message}\n"


def test_values_in_range_or_not_given_pass_silently(capsys):
    assert at_least("--batch-size", 1, 1) and at_least("--workers", None, 0)
    assert between("--box-threshold", 255, 1, 255) and between("--box-threshold", None, 1, 255)
    assert capsys.readouterr().err == ""


def test_a_chain_reports_only_the_first_bad_option(capsys):
    assert not (at_least("--batch-size", 0, 1) and at_least("--repeat", 0, 1))
    assert capsys.readouterr().err.count("chestview: error:") == 1
