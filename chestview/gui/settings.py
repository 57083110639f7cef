"""User settings of the app: a small JSON file in ``user_config_dir()``, and the Settings dialog."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from chestview.engine.backends import CHOICES as BACKENDS
from chestview.engine.backends import PRECISIONS
from chestview.engine.colormaps import DEFAULT_COLORMAP, DEFAULT_OPACITY, COLORMAPS
from chestview.engine.paths import user_config_dir
from chestview.engine.util import atomic_write_text

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
MAX_RECENT = 10


@dataclass
class AppSettings:
    default_model: str = ""  # model id; "" = the zoo's default (model_zoo/DEFAULT)
    device: str = "auto"
    backend: str = "auto"  # inference backend; auto: the fastest exact one for the device
    precision: str = "f32"  # bf16: only for a model whose card proves it (else f32, logged)
    site: str = ""  # a site profile (chestview calibrate) for the models that have one; "" = their own
    # Named apart from the "colormap"/"opacity" of earlier builds, which saved jet at 0.45 by default
    # (a cyan/yellow tint over the whole film) and would keep it after the default changed.
    heat_colormap: str = DEFAULT_COLORMAP
    # 0: each model's own (its card's, chosen on validation). Named apart from the "box_threshold" of
    # earlier builds, which saved Wang's 180 by default and would pin every model to it.
    fixed_box_threshold: int = 0
    heat_opacity: float = DEFAULT_OPACITY
    recent_folders: list[str] = field(default_factory=list)
    last_export_dir: str = ""  # "" = <documents>/chestview
    wheel_pages: bool = True  # the mouse wheel steps through images and Ctrl+wheel zooms (else swapped)
    geometry: str = ""  # base64 of QMainWindow.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()

    @staticmethod
    def path() -> Path:
        return user_config_dir() / "gui.json"

    @classmethod
    def load(cls) -> "AppSettings":
        path = cls.path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings %s: %s", path, exc)
            return cls()
        known = {f.name for f in fields(cls)}
        s = cls(**{k: v for k, v in data.items() if k in known})
        s.sanitise()
        return s

    def sanitise(self) -> None:
        if self.device not in DEVICES:
            self.device = "auto"
        if self.backend not in BACKENDS:
            self.backend = "auto"
        if self.precision not in PRECISIONS:
            self.precision = "f32"
        if self.heat_colormap not in COLORMAPS:
            self.heat_colormap = DEFAULT_COLORMAP
        self.fixed_box_threshold = int(min(max(int(self.fixed_box_threshold), 0), 255))
        self.heat_opacity = float(min(max(float(self.heat_opacity), 0.0), 1.0))
        self.recent_folders = [str(p) for p in self.recent_folders][:MAX_RECENT]
        self.wheel_pages = bool(self.wheel_pages)
        self.last_export_dir = str(self.last_export_dir or "")
        self.site = str(self.site or "")

    def save(self) -> None:
        try:
            atomic_write_text(self.path(), json.dumps(asdict(self), indent=2))
        except OSError as exc:
            log.warning("could not save settings: %s", exc)

    def add_recent(self, folder: str | Path) -> None:
        folder = str(Path(folder).resolve())
        self.recent_folders = [folder] + [f for f in self.recent_folders if f != folder]
        del self.recent_folders[MAX_RECENT:]


class SettingsDialog(QDialog):
    """Default model, device, inference backend, heatmap colour map and box threshold."""

    def __init__(self, settings: AppSettings, model_ids: list[str], parent: QWidget | None = None,
                 zoo_default: str = "", site_names: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        form = QFormLayout(self)

        self.model_combo = QComboBox()
        # "" follows the zoo's default (model_zoo/DEFAULT), named here so the reader knows which it is.
        self.model_combo.addItem(f"zoo default ({zoo_default})" if zoo_default else "zoo default", "")
        for mid in model_ids:
            self.model_combo.addItem(mid, mid)
        idx = self.model_combo.findData(settings.default_model)
        self.model_combo.setCurrentIndex(max(idx, 0))
        form.addRow("Default model", self.model_combo)

        def choice(label: str, items, current: str, tip: str = "") -> QComboBox:
            combo = QComboBox()
            combo.addItems(items)
            combo.setCurrentText(current)
            if tip:
                combo.setToolTip(tip)
            form.addRow(label, combo)
            return combo

        self.device_combo = choice("Device", DEVICES, settings.device)
        self.backend_combo = choice(
            "Inference backend", BACKENDS, settings.backend,
            "auto: on the CPU the fastest exact backend installed (OpenVINO, then ONNX Runtime), checked "
            "against torch before first use; torch on a GPU")
        self.precision_combo = choice(
            "Precision", PRECISIONS, settings.precision,
            "f32: exact. bf16: OpenVINO on a CPU with bf16, only for a model whose card records a passing "
            "`chestview models check-precision`; otherwise f32")
        self.cmap_combo = choice("Heatmap colour map", COLORMAPS, settings.heat_colormap)

        self.site_combo = QComboBox()
        self.site_combo.addItem("none (each model's own)", "")
        for name in sorted(set(site_names or []) | ({settings.site} - {""})):
            self.site_combo.addItem(name, name)
        self.site_combo.setCurrentIndex(max(self.site_combo.findData(settings.site), 0))
        self.site_combo.setToolTip("A site profile made by `chestview calibrate` on this hospital's labelled films: "
                                   "its calibration, operating points and gate cut, for the models calibrated "
                                   "there (the others keep their own)")
        form.addRow("Site profile", self.site_combo)

        self.threshold_spin = QSpinBox()
        self.threshold_spin.setRange(0, 255)
        self.threshold_spin.setSpecialValueText("each model's own")  # shown for 0
        self.threshold_spin.setValue(settings.fixed_box_threshold)
        self.threshold_spin.setToolTip("Heatmap level (1-255) above which boxes are drawn. Each model's own is "
                                       "chosen on its validation split (Wang et al. 2017 used 180)")
        form.addRow("Box threshold", self.threshold_spin)

        self.wheel_combo = QComboBox()
        self.wheel_combo.addItem("steps through images (Ctrl+wheel zooms)", True)
        self.wheel_combo.addItem("zooms (Ctrl+wheel steps through images)", False)
        self.wheel_combo.setCurrentIndex(0 if settings.wheel_pages else 1)
        form.addRow("Mouse wheel", self.wheel_combo)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def apply(self) -> AppSettings:
        s = self._settings
        s.default_model = self.model_combo.currentData() or ""
        s.device = self.device_combo.currentText()
        s.backend = self.backend_combo.currentText()
        s.precision = self.precision_combo.currentText()
        s.heat_colormap = self.cmap_combo.currentText()
        s.site = self.site_combo.currentData() or ""
        s.fixed_box_threshold = self.threshold_spin.value()
        s.wheel_pages = bool(self.wheel_combo.currentData())
        return s
