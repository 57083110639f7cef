"""A made-up site: the 60 real NIH films of tests/data/site (30 normal; a collection the bundled models
never trained on), with their NIH labels, through another hospital's processing curve (a gamma and a
contrast change), as a csv: dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chestview.engine.gate.kinds import apply_curve

LABELS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
          "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")


def made_up_site(test_data: Path, out: Path, *, gamma: float = 0.6, contrast: float = 0.7) -> Path:
    """The csv of the site's films (written under ``out``)."""
    src = test_data / "site"
    with open(src / "Data_Entry_2017_v2020.csv", encoding="utf-8") as fh:
        rows = {r["Image Index"]: r for r in csv.DictReader(fh)}
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = [["path", "patient_id", *LABELS]]
    for path in sorted((src / "images").glob("*.png")):
        row = rows[path.name]
        a = np.asarray(Image.open(path).convert("L"))
        Image.fromarray(apply_curve(a, gamma=gamma, contrast=contrast)).save(out / "images" / path.name)
        found = set(row["Finding Labels"].split("|"))
        lines.append([f"images/{path.name}", row["Patient ID"], *("1" if lbl in found else "0" for lbl in LABELS)])
    with open(out / "site.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(lines)
    return out / "site.csv"


@pytest.fixture(scope="module")
def site_csv(test_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return made_up_site(test_data, tmp_path_factory.mktemp("site"))
