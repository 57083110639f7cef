"""Errors the engine raises for bad input. Their message is one line that names the file and the reason."""

from __future__ import annotations

from pathlib import Path


class ChestviewError(Exception):
    """Base class of every error meant for the user (printed as one line, never as a traceback).

    ``exit_code`` is the CLI's status when one reaches the command line: 2 (usage or configuration:
    the command refused to start) unless a subclass says 1 (an input or the run itself failed).
    """

    exit_code = 2


class ImageLoadError(ChestviewError):
    """A file could not be read as an image."""

    exit_code = 1

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelError(ChestviewError):
    """A model, card or weights file is missing, malformed or fails its checksum."""


class DatasetError(ChestviewError):
    """A dataset specification or file is malformed."""


class RunError(ChestviewError):
    """The command started but failed on its way (a download cut off, a diverging loss)."""

    exit_code = 1
