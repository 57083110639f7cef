import numpy as np

from chestview.engine.evaluate.calibration import apply_platt
from chestview.engine.evaluate.reader import abnormal_targets, reader_metrics


def test_abnormal_targets():
    t = np.array([[0, 0], [1, 0], [0, np.nan], [np.nan, 1]], float)
    out = abnormal_targets(t)
    assert out[0] == 0 and out[1] == 1 and np.isnan(out[2]) and out[3] == 1


def test_reader_metrics_counts_what_a_reader_sees():
    labels = ["Atelectasis", "Cardiomegaly", "Hernia"]
    targets = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [1, 1, 0]], float)
    probs = np.array([[0.1, 0.1, 0.9], [0.6, 0.1, 0.0], [0.7, 0.1, 0.0], [0.1, 0.8, 0.0], [0.1, 0.2, 0.0],
                      [0.9, 0.9, 0.0]])
    ab = np.array([0.1, 0.3, 0.8, 0.7, 0.2, 0.95])
    params = {"Atelectasis": [0.5, 0.1], "Cardiomegaly": [2.0, -0.5], "Abnormality": [1.5, 0.0]}
    out = reader_metrics(targets, probs, labels, {"Atelectasis": 0.5, "Cardiomegaly": 0.5, "Hernia": 0.5},
                         unreliable=["Hernia"], abnormality=ab, abnormality_threshold=0.5,
                         groups=["first", "first", "first", "second", "second", "second"],
                         calibration={"params": params}, n_boot=50)
    # Hernia (unreliable) never counts as positive: one of three normals has a positive (0.6 Atelectasis)
    assert out["normal_with_any_positive"] == round(1 / 3, 4)
    assert out["abnormal_with_any_positive"] == 1.0
    assert out["abnormality_auroc"] == 1.0 and out["abnormal_flagged"] == 1.0 and out["normal_flagged"] == 0.0
    assert out["n_first"] == 3 and out["n_second"] == 3
    assert out["ece_labels_before"] is not None and out["ece_abnormality_after"] is not None


def test_calibrated_probabilities_round_trip_through_the_report():
    p = np.array([0.2, 0.4, 0.6])
    q = apply_platt(p, 2.0, -0.5)
    labels = ["Atelectasis"]
    out = reader_metrics(np.array([[0], [1], [1]], float), q[:, None], labels, {"Atelectasis": 0.5},
                         calibration={"params": {"Atelectasis": [2.0, -0.5]}}, n_boot=0)
    assert out["ece_labels_before"] != out["ece_labels_after"]
