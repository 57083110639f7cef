"""The abnormality output, the new training levers and the validation operating point, end to end
on 40 real 64 px NIH images, and the operating-point rule on made-up validation scores."""

import json

import numpy as np
import pytest

from chestview.cli.main import main
from chestview.engine.train.evaluation import SplitPredictions, fit_operating_point
from chestview.engine.zoo import load_model
from chestview.engine.zoo.card import ABNORMALITY


@pytest.fixture(scope="module")
def trained(tmp_path_factory, test_data):
    out = tmp_path_factory.mktemp("train-ab") / "run"
    code = main([
        "train", "--arch", "chexnet", "--trunk", "resnet18", "--data", f"nih:{test_data / 'nih_64px'}",
        "--size", "64", "--epochs", "2", "--batch-size", "8", "--workers", "0", "--device", "cpu",
        "--abnormality", "--schedule", "cosine", "--warmup-epochs", "0.5", "--trunk-lr-mult", "0.3",
        "--ema-decay", "0.9", "--label-smoothing", "0.05",
        "--out", str(out), "--model-id", "smoke-ab", "--no-progress",
    ])
    return code, out


def test_abnormality_model_trains_and_predicts(trained, tmp_path, samples_dir):
    code, out = trained
    assert code == 0
    card = load_model(out / "model").card
    assert card.has_abnormality and card.n_outputs == len(card.labels) + 1
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "val_abnormality_auroc" in history[0]
    assert all(h["lr"] > 0 for h in history)
    code = main(["predict", str(samples_dir / "00000661_000.png"), "--model", str(out / "model"),
                 "--out", str(tmp_path / "pred"), "--no-images", "--device", "cpu"])
    assert code == 0
    entry = json.loads((tmp_path / "pred" / "results.json").read_text())
    entry = entry["results"][0] if isinstance(entry, dict) and "results" in entry else entry[0]
    ab = entry["abnormality"]
    assert 0.0 <= ab["probability"] <= 1.0 and ab["positive"] == (ab["probability"] >= ab["threshold"])


def _val_predictions(n_normal=80, n_abnormal=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = ("Atelectasis", "Effusion", "Hernia")
    n = n_normal + n_abnormal
    targets = np.zeros((n, 3))
    targets[n_normal:, 0] = rng.random(n_abnormal) < 0.6
    targets[n_normal:, 1] = 1 - targets[n_normal:, 0]
    z = targets * 2.0 + rng.normal(0, 1, (n, 3)) - 3.0
    probs = 1 / (1 + np.exp(-3 * z))  # over-confident on purpose
    ab = 1 / (1 + np.exp(-3 * ((targets.max(axis=1) * 2.5) + rng.normal(0, 1, n) - 1.5)))
    return SplitPredictions(labels, list(range(n)), [""] * n, probs, targets, [[] for _ in range(n)],
                            [{} for _ in range(n)], [(64, 64)] * n, abnormality=ab, groups=[None] * n)


def test_operating_point_calibrates_and_meets_its_validation_targets():
    from chestview.engine.zoo.card import ModelCard

    preds = _val_predictions()
    card = ModelCard.from_json({"id": "x", "architecture": "chexnet", "labels": list(preds.labels),
                                "preprocessing": {"size": 64, "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3},
                                "unreliable_labels": ["Hernia"], "abnormality": {"threshold": 0.5}})
    updates, rules, calibrated = fit_operating_point(preds, card)
    params = updates["calibration"]["params"]
    assert {"Atelectasis", "Effusion", ABNORMALITY} <= set(params) and params["Atelectasis"][0] < 1
    normals = calibrated.probs[:80, :2]
    t = [updates["thresholds"][k] for k in ("Atelectasis", "Effusion")]
    assert np.mean((normals >= np.array(t)).any(axis=1)) <= 0.30
    sick = calibrated.abnormality[80:]
    assert np.mean(sick >= updates["abnormality"]["threshold"]) >= 0.90
    assert t[0] == t[1] and "one threshold for every finding" in rules["Atelectasis"] and "sensitivity" in rules[ABNORMALITY]


def test_warmup_then_cosine_and_a_slower_trunk():
    import torch

    from chestview.engine.train.config import TrainConfig
    from chestview.engine.train.trainer import param_groups, warmup_cosine

    f = warmup_cosine(4, 20)
    factors = [f(step) for step in range(21)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]  # linear warm-up
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))  # then never rising
    assert factors[20] == pytest.approx(0.0, abs=1e-12) and factors[12] == pytest.approx(0.5)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = torch.nn.Linear(2, 2)
            self.head = torch.nn.Linear(2, 1)

    groups = param_groups(Net(), TrainConfig(lr=1e-3, trunk_lr_mult=0.3))
    assert [g["lr"] for g in groups] == [pytest.approx(3e-4), 1e-3] and [len(g["params"]) for g in groups] == [2, 2]
