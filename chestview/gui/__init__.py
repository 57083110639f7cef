"""The chestview desktop app: everything that imports Qt lives in this package.

The engine (:mod:`chestview.engine`) never imports Qt; this package only calls it, in worker
threads for anything that takes longer than a frame. Engine imports that pull in torch sit inside
the functions (jobs, dialogs) that need them, on purpose: the main window appears before torch
is imported.
"""
