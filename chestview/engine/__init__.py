"""The Qt-free engine: reading studies, models, heatmaps, boxes, training and evaluation.

Nothing under this package may import Qt (PySide6, pyqtgraph, superqt); a test enforces it.
"""
