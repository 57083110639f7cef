"""The input-validity gate: does an image look like a frontal chest radiograph?

Three kinds of evidence, one :class:`~chestview.engine.results.InputCheck`:

* the distance of the image's pooled trunk features to the model's training films
  (:mod:`.stats`; fitted per model by :func:`.fit.fit_input_gate`, stored beside the weights);
* cheap pixel checks (:mod:`.pixels`): a colour picture, an extreme aspect ratio, a flat or
  two-level intensity histogram;
* DICOM headers that say CT/MR or a body part other than the chest
  (:func:`chestview.engine.io.checks.header_problems`).
"""

from __future__ import annotations

from chestview.engine.gate.check import input_check
from chestview.engine.gate.store import GATE_FILE, load_gate, save_gate

__all__ = ["GATE_FILE", "input_check", "load_gate", "save_gate"]
