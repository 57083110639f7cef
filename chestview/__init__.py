"""chestview: review chest X-rays with deep learning. Not for clinical use."""

__version__ = "0.1.0"
DISCLAIMER = "Research software: not for clinical use."
