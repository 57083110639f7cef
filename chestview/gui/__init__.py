"""The chestview desktop app: everything that imports Qt lives in this package.

The engine (:mod:`chestview.engine`) never imports Qt; this package only calls it, in worker
threads for anything that takes longer than a frame.
"""
