"""A site profile on disk and applied to a model.

Stored as JSON in ``user_data_dir()/sites/<model id>/<name>.json`` (plain numbers: Platt parameters,
thresholds, the gate's distance cut, the measurements). Applied, it replaces the card's calibration,
finding thresholds, abnormality threshold and the gate's distance cut in memory only; the card then
names the profile (``calibration["site"]``), so results, the result cache and exports know it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chestview.engine.errors import ChestviewError
from chestview.engine.paths import user_data_dir
from chestview.engine.util import atomic_write_text
from chestview.engine.zoo.card import ModelCard

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class SiteProfile:
    name: str
    model_id: str
    model_sha256: str  # the weights it was fitted for: another version of the model needs its own
    data: str
    n_films: int
    calibration: dict[str, Any]  # the card's format: {"method", "fitted_on", "params"}
    thresholds: dict[str, float]
    abnormality: dict[str, Any] = field(default_factory=dict)  # {"threshold", "rule"} when the model has one
    gate_threshold: float | None = None  # the feature distance's cut at this site
    rules: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)  # {"before", "after", "how"}: see site.fit
    # This site's films as the drift check's reference (gate.drift.reference_quantiles): after
    # recalibration a folder is compared with the site's own films, not the model's validation films.
    reference: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SiteProfile":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def apply(self, card: ModelCard) -> ModelCard:
        """The card as this site uses it (in memory). Refuses a card of other weights."""
        if card.id != self.model_id or (card.sha256 and self.model_sha256 and card.sha256 != self.model_sha256):
            raise ChestviewError(f"site profile {self.name!r} was fitted for {self.model_id} "
                                 f"(weights {self.model_sha256[:12]}), not for {card.id} ({card.sha256[:12]})")
        updates: dict[str, Any] = {
            "calibration": {**self.calibration, "site": self.name},
            "thresholds": {**card.thresholds, **self.thresholds},
        }
        if card.has_abnormality and self.abnormality:
            updates["abnormality"] = {**card.abnormality, **self.abnormality, "site": self.name}
        if card.input_gate:
            gate = dict(card.input_gate)
            if self.gate_threshold is not None:
                gate["site_threshold"] = float(self.gate_threshold)
            if self.reference:
                gate["reference"] = self.reference
            updates["input_gate"] = gate
        return card.with_updates(**updates)


def site_of(card: ModelCard) -> str | None:
    """The site profile a card was given (None: the model's own calibration)."""
    return (card.calibration or {}).get("site") or None


def sites_dir(model_id: str) -> Path:
    return user_data_dir() / "sites" / model_id


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ChestviewError(f"site name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return name


def save_profile(profile: SiteProfile) -> Path:
    path = sites_dir(profile.model_id) / f"{check_name(profile.name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(profile.to_json(), indent=2) + "\n")
    return path


def load_profile(model_id: str, name: str) -> SiteProfile:
    path = sites_dir(model_id) / f"{check_name(name)}.json"
    try:
        return SiteProfile.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        known = ", ".join(list_profiles(model_id)) or "none"
        raise ChestviewError(f"no site profile {name!r} for {model_id} (known: {known}; make one with "
                             "`chestview calibrate`)") from None
    except (OSError, ValueError, TypeError) as exc:
        raise ChestviewError(f"{path}: not a readable site profile ({exc})") from None


def list_profiles(model_id: str) -> list[str]:
    folder = sites_dir(model_id)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def with_site(loaded: Any, profile: SiteProfile | None) -> Any:
    """A shallow copy of a LoadedModel whose card is the site's (the weights and module are shared)."""
    if profile is None:
        return loaded
    out = copy.copy(loaded)
    out.card = profile.apply(loaded.card)
    return out


def profile_for(model_id: str, name: str) -> SiteProfile | None:
    """The profile ``name`` of ``model_id``, or None when no site is chosen or this model has none of
    that name (the app's Settings choose a site for every model; a model not calibrated there keeps
    its own operating points)."""
    if not name or name not in list_profiles(model_id):
        return None
    return load_profile(model_id, name)


def all_site_names(model_ids: list[str]) -> list[str]:
    return sorted({n for mid in model_ids for n in list_profiles(mid)})
