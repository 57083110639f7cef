"""Make ``tests/data/site/``: 60 real NIH films for the site-profile and drift tests.

Taken from the third NIH collection of ``../shared/data/nih`` (which the bundled models never saw in
training): the first 30 ``No Finding`` films and the first 30 with a finding, in CSV order, one per
patient, downscaled to 128 px (Lanczos) and saved as 8-bit PNG, with their unchanged NIH label rows
(``Data_Entry_2017_v2020.csv``). The tests make a "made-up site" from them by changing the
processing curve. Run from the repository root: ``python tests/data/derive_site_from_shared.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image

SHARED = Path("../shared/data/nih")
OUT = Path("tests/data/site")
SIZE = 128
PER_KIND = 30


def main() -> None:
    with open(SHARED / "collections.csv", encoding="utf-8") as fh:
        third = {r["Image Index"] for r in csv.DictReader(fh) if r["collection"] == "3"}
    with open(SHARED / "Data_Entry_2017_v2020.csv", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, [r for r in reader if r["Image Index"] in third]
    chosen, patients, counts = [], set(), {True: 0, False: 0}
    for r in rows:
        normal = r["Finding Labels"] == "No Finding"
        if counts[normal] >= PER_KIND or r["Patient ID"] in patients:
            continue
        chosen.append(r)
        patients.add(r["Patient ID"])
        counts[normal] += 1
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    for r in chosen:
        img = Image.open(SHARED / "images" / r["Image Index"]).convert("L")
        img.resize((SIZE, SIZE), Image.LANCZOS).save(OUT / "images" / r["Image Index"], optimize=True)
    with open(OUT / "Data_Entry_2017_v2020.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(chosen)
    print(f"{len(chosen)} films ({counts[True]} No Finding) in {OUT}")


if __name__ == "__main__":
    main()
