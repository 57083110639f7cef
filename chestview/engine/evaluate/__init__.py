"""Evaluation: per-label AUROC with bootstrap intervals, Youden thresholds, localization accuracy
with honest controls, and the report files."""

from chestview.engine.evaluate.localization import (
    IOBB_THRESHOLDS, IOU_THRESHOLDS, PRIOR_BOXES, LocalizationResult, ThresholdTable, greedy_prior, iobb, iou,
    localization_accuracy, localization_table, localization_with_controls, mean_prior_boxes, prior_boxes,
    prior_predictions, swap_predictions,
)
from chestview.engine.evaluate.metrics import (
    AurocReport, LabelAuroc, OperatingPoint, operating_points, per_label_auroc, sensitivity_specificity,
    youden_threshold, youden_thresholds,
)
from chestview.engine.evaluate.report import ReportFiles, write_report

__all__ = [
    "IOBB_THRESHOLDS", "IOU_THRESHOLDS", "PRIOR_BOXES", "AurocReport", "LabelAuroc", "LocalizationResult", "OperatingPoint",
    "ReportFiles", "ThresholdTable", "greedy_prior", "iobb", "iou", "localization_accuracy", "localization_table", "localization_with_controls",
    "mean_prior_boxes", "operating_points", "per_label_auroc", "prior_boxes", "prior_predictions", "sensitivity_specificity",
    "swap_predictions", "write_report", "youden_threshold", "youden_thresholds",
]
