"""From class activation maps to heatmaps and boxes: pure functions."""
