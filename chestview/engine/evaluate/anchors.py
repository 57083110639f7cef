"""Published numbers shown beside ours in reports, with where they come from.

They are anchors, not targets: the metric may be the same while the test set differs (we rarely
evaluate on the official NIH test list, and never on CheXNet's radiologist-labelled set). Each
anchor says which. Values transcribed from the papers' tables; check the PDF before quoting them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    name: str
    citation: str
    metric: str  # "auroc" or "loc_acc_iobb_0.1"
    comparability: str  # what is the same and what is not
    values: dict[str, float]


WANG2017_RESNET50_AUROC = Anchor(
    name="Wang et al. 2017 (ChestX-ray8, ResNet-50)",
    citation="Wang X, Peng Y, Lu L, Lu Z, Bagheri M, Summers RM. ChestX-ray8: Hospital-scale chest X-ray "
             "database and benchmarks on weakly-supervised classification and localization of common thorax "
             "diseases. CVPR 2017, Table 4 (ResNet-50).",
    metric="auroc",
    comparability="same metric (per-label AUROC); their 8-label ChestX-ray8 release and test split",
    values={"Atelectasis": 0.7069, "Cardiomegaly": 0.8141, "Effusion": 0.7362, "Infiltration": 0.6128,
            "Mass": 0.5609, "Nodule": 0.7164, "Pneumonia": 0.6333, "Pneumothorax": 0.7891},
)

CHEXNET2017_AUROC = Anchor(
    name="CheXNet (Rajpurkar et al. 2017)",
    citation="Rajpurkar P, Irvin J, et al. CheXNet: Radiologist-level pneumonia detection on chest X-rays "
             "with deep learning. arXiv:1711.05225, Table 1 (CheXNet column).",
    metric="auroc",
    comparability="same metric (per-label AUROC) on ChestX-ray14; their own patient-wise test split",
    values={"Atelectasis": 0.8094, "Cardiomegaly": 0.9248, "Effusion": 0.8638, "Infiltration": 0.7345,
            "Mass": 0.8676, "Nodule": 0.7802, "Pneumonia": 0.7680, "Pneumothorax": 0.8887,
            "Consolidation": 0.7901, "Edema": 0.8878, "Emphysema": 0.9371, "Fibrosis": 0.8047,
            "Pleural_Thickening": 0.8062, "Hernia": 0.9164},
)

CHEXNET2017_WANG_COLUMN_AUROC = Anchor(
    name="Wang et al. 2017 as cited by CheXNet (ChestX-ray14)",
    citation="Rajpurkar P, Irvin J, et al. CheXNet, arXiv:1711.05225, Table 1 (Wang et al. 2017 column).",
    metric="auroc",
    comparability="same metric (per-label AUROC) on ChestX-ray14; the official NIH test list",
    values={"Atelectasis": 0.716, "Cardiomegaly": 0.807, "Effusion": 0.784, "Infiltration": 0.609,
            "Mass": 0.706, "Nodule": 0.671, "Pneumonia": 0.633, "Pneumothorax": 0.806,
            "Consolidation": 0.708, "Edema": 0.835, "Emphysema": 0.815, "Fibrosis": 0.769,
            "Pleural_Thickening": 0.708, "Hernia": 0.767},
)

WANG2017_LOC_IOBB_01 = Anchor(
    name="Wang et al. 2017 localization, T(IoBB)=0.1",
    citation="Wang X, et al. ChestX-ray8, CVPR 2017, Table 3 (accuracy at T(IoBB)=0.1).",
    metric="loc_acc_iobb_0.1",
    comparability="same criterion (IoBB over the generated box > 0.1) on the NIH boxed images; "
                  "their boxes come from their own heatmap thresholding",
    values={"Atelectasis": 0.7277, "Cardiomegaly": 0.9931, "Effusion": 0.7124, "Infiltration": 0.7886,
            "Mass": 0.4352, "Nodule": 0.1645, "Pneumonia": 0.7500, "Pneumothorax": 0.4591},
)

DEFAULT_AUROC_ANCHORS: tuple[Anchor, ...] = (WANG2017_RESNET50_AUROC, CHEXNET2017_WANG_COLUMN_AUROC, CHEXNET2017_AUROC)
DEFAULT_LOCALIZATION_ANCHORS: tuple[Anchor, ...] = (WANG2017_LOC_IOBB_01,)
