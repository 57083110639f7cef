"""How the dataset-reader test files were made from ../shared/data (run once by hand; tests never run it).

    python tests/data/derive_datasets_from_shared.py

- nih_64px/: 40 real 64 px NIH images (patients with one image: every Infiltration, Atelectasis,
  Effusion or Cardiomegaly image, then No Finding to 40) and their unchanged rows of the full NIH
  label file, for a CI smoke training run (those four labels have positives in every split).
- chexpert/: a CheXpert-format CSV written by hand (1 / 0 / -1 / blank, one lateral view) over
  copies of six of those images in the CheXpert folder layout.
- openi/: the real Open-i report XML and its frontal image downscaled to 256 px.
- indiana/: Chest ALSTM-MLC style pickles {image name: [tags]} (tags written by hand) over the
  Open-i image and six NIH 64 px images; one listed image is absent on purpose.
- generic.csv: path, patient_id and two label columns (one blank = unknown) over eight images.
"""

from __future__ import annotations

import csv
import gzip
import os
import pickle
import shutil
from collections import defaultdict
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
KEY_LABELS = {"Infiltration", "Atelectasis", "Effusion", "Cardiomegaly"}


def make_nih_64px() -> list[str]:
    names = set(os.listdir(SHARED / "nih_64px" / "images"))
    with gzip.open(SHARED / "nih_full_labels" / "Data_Entry_2017_v2020.csv.gz", "rt", newline="") as fh:
        lines = fh.read().splitlines()
    by_patient: dict[str, list[str]] = defaultdict(list)
    for ln in lines[1:]:
        row = next(csv.reader([ln]))
        if row[0] in names:
            by_patient[row[3]].append(ln)
    single = sorted(v[0] for v in by_patient.values() if len(v) == 1)
    labels = lambda ln: set(ln.split(",")[1].split("|"))  # noqa: E731
    chosen = [ln for ln in single if KEY_LABELS & labels(ln)]
    chosen += [ln for ln in single if labels(ln) == {"No Finding"}][: max(0, 40 - len(chosen))]
    chosen.sort()
    out = HERE / "nih_64px"
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "Data_Entry_2017_v2020.csv").write_text("\n".join([lines[0], *chosen]) + "\n")
    images = [ln.split(",")[0] for ln in chosen]
    for name in images:
        shutil.copyfile(SHARED / "nih_64px" / "images" / name, out / "images" / name)
    return images


def make_chexpert(imgs: list[str]) -> None:
    rows = [
        ("patient00001/study1/view1_frontal.png", imgs[0], "Female", 68, "Frontal", "AP", ["", "1", "0", "-1", "1"]),
        ("patient00001/study1/view2_lateral.png", imgs[1], "Female", 68, "Lateral", "", ["", "1", "", "-1", ""]),
        ("patient00002/study1/view1_frontal.png", imgs[2], "Male", 50, "Frontal", "PA", ["1", "0", "0", "", "0"]),
        ("patient00003/study1/view1_frontal.png", imgs[3], "Male", 77, "Frontal", "AP", ["", "-1", "1", "0", ""]),
        ("patient00003/study2/view1_frontal.png", imgs[4], "Male", 77, "Frontal", "AP", ["", "0", "1", "1", "-1"]),
        ("patient00004/study1/view1_frontal.png", imgs[5], "Female", 31, "Frontal", "PA", ["1", "", "", "", "0"]),
    ]
    labels = ["No Finding", "Cardiomegaly", "Edema", "Consolidation", "Pleural Effusion"]
    out = HERE / "chexpert"
    lines = ["Path,Sex,Age,Frontal/Lateral,AP/PA," + ",".join(labels)]
    for rel, src, sex, age, view, ap, values in rows:
        dst = out / "train" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / "nih_64px" / "images" / src, dst)
        lines.append(",".join([f"CheXpert-v1.0-small/train/{rel}", sex, str(age), view, ap, *values]))
    (out / "train.csv").write_text("\n".join(lines) + "\n")


def make_openi_and_indiana(imgs: list[str]) -> None:
    openi = HERE / "openi"
    openi.mkdir(exist_ok=True)
    im = Image.open(SHARED / "openi" / "CXR1_1_IM-0001-3001.png")
    im.thumbnail((256, 256), Image.LANCZOS)
    im.save(openi / "CXR1_1_IM-0001-3001.png", optimize=True)
    shutil.copyfile(SHARED / "openi" / "report_CXR1.xml", openi / "report_CXR1.xml")

    ind = HERE / "indiana"
    (ind / "images").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(openi / "CXR1_1_IM-0001-3001.png", ind / "images" / "CXR1_1_IM-0001-3001.png")
    n = imgs[6:12]
    for name in n:
        shutil.copyfile(SHARED / "nih_64px" / "images" / name, ind / "images" / name)
    splits = {
        "train_data.pkl": {"CXR1_1_IM-0001-3001": ["normal"], n[0]: ["cardiomegaly", "opacity"],
                           n[1]: ["opacity"], n[2]: ["normal"]},
        "valid_data.pkl": {n[3]: ["opacity", "effusion"]},
        "test_data.pkl": {n[4]: ["cardiomegaly"], n[5]: ["normal"], "missing_image_0001": ["opacity"]},
    }
    for name, data in splits.items():
        with open(ind / name, "wb") as fh:
            pickle.dump(data, fh, protocol=4)


def make_generic(imgs: list[str]) -> None:
    lines = ["path,patient_id,Cardiomegaly,Effusion"]
    for i, name in enumerate(imgs[12:20]):
        effusion = "" if i == 3 else str((i // 2) % 2)
        lines.append(f"nih_64px/images/{name},{name[:8]},{i % 2},{effusion}")
    (HERE / "generic.csv").write_text("\n".join(lines) + "\n")


def main() -> None:
    make_nih_64px()
    imgs = sorted(os.listdir(HERE / "nih_64px" / "images"))
    make_chexpert(imgs)
    make_openi_and_indiana(imgs)
    make_generic(imgs)


if __name__ == "__main__":
    main()
