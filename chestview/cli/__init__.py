"""The command line: `chestview` (the app), `chestview predict|models|bench|train|eval`.

Imports of the engine sit inside the command functions on purpose: they defer torch (and, through
the backends, openvino or onnxruntime), so that ``chestview --help``, a usage error and the app's
first window come up in a fraction of a second; a command pays for what it runs.
"""
