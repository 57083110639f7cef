"""Inference backends: the same model run by torch, ONNX Runtime or OpenVINO, chosen by name.

``select.open_backend(loaded, device, "auto")`` takes, on the CPU, the fastest exact backend installed
(the order of ``CPU_PREFERENCE``, measured with ``chestview bench``: see the README) and torch on
CUDA and MPS. An exported backend is used only once its check against torch passed; when the
runtime, the export or the check fails, the model runs on torch and ``OpenedBackend.note`` says
why in one line (``warn`` tells a failure from a known limit, such as ALSTM-MLC's decoding loop).

Reduced precision (``precision="bf16"``, OpenVINO on a CPU with bf16 instructions) is an opt-in
that must prove itself: it runs only for a model whose card records a passing check on its own
validation split (:mod:`chestview.engine.backends.precision`); otherwise float32, with a warning.

The modules, and the one way their imports run (each imports only those before it):

- :mod:`.base`: the Backend protocol, BackendUnavailable, the fixed check input and the parity measure;
- :mod:`.precision`: the rule for reduced precision (what a card must prove);
- :mod:`.torch_backend`: the reference, the torch module itself;
- :mod:`.export`: the module as an ONNX graph, torch's reference outputs, the export into the user cache;
- :mod:`.packaged`: the graph a zoo entry ships and its shipped reference (written and read back);
- :mod:`.graph`: which graph a runtime opens (shipped, else the cache export) with its reference,
  and the runtime's check against it, once per graph and version;
- :mod:`.onnxruntime_backend`, :mod:`.openvino_backend`: a runtime on one graph file, nothing more;
- :mod:`.select`: the one place that decides which backend, which precision and, for a runtime, which
  graph (falling back from the shipped graph to an export), then opens it.

Measuring a reduced precision on a validation split runs the model as ``eval`` does, so it lives
above the package, in :mod:`chestview.engine.precision_proof`.
"""

# Names only here, so that the command line can offer them without importing torch.
BACKENDS = ("torch", "onnxruntime", "openvino")
CHOICES = ("auto", *BACKENDS)
CPU_PREFERENCE = ("openvino", "onnxruntime")  # fastest first (both float32 and exact): README, Benchmark
PRECISIONS = ("f32", "bf16")  # f32: exact (the default); bf16: OpenVINO only, where the card proves it
