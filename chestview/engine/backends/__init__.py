"""Inference backends: the same model run by torch, ONNX Runtime or OpenVINO, chosen by name.

``select.open_backend(loaded, device, "auto")`` takes, on the CPU, the fastest exact backend installed
(the order of ``CPU_PREFERENCE``, measured with ``chestview bench``: see the README) and torch on
CUDA and MPS. An exported backend is used only once its check against torch passed; when the
runtime, the export or the check fails, the model runs on torch and ``OpenedBackend.note`` says
why in one line (``warn`` tells a failure from a known limit, such as ALSTM-MLC's decoding loop).

Reduced precision (``precision="bf16"``, OpenVINO on a CPU with bf16 instructions) is an opt-in
that must prove itself: it runs only for a model whose card records a passing check on its own
validation split (:mod:`chestview.engine.backends.precision`); otherwise float32, with a warning.
"""

# Names only here, so that the command line can offer them without importing torch.
BACKENDS = ("torch", "onnxruntime", "openvino")
CHOICES = ("auto", *BACKENDS)
CPU_PREFERENCE = ("openvino", "onnxruntime")  # fastest first (both float32 and exact): README, Benchmark
PRECISIONS = ("f32", "bf16")  # f32: exact (the default); bf16: OpenVINO only, where the card proves it
