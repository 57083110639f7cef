"""Research architectures beyond the trunk + head family; importing this module registers them.

- ``alstm_mlc``: CNN encoder + attention + LSTM label decoder (:mod:`.alstm_mlc`)
- ``ctranscnn``: parallel CNN and Transformer branches with label queries (:mod:`.ctranscnn`)
- ``bilinear_msml``: bilinear pooling for the multi-label softmax loss (:mod:`.bilinear`)
"""

from chestview.engine.models import alstm_mlc, bilinear, ctranscnn  # noqa: F401
