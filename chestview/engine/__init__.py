"""The Qt-free engine: reading studies, models, heatmaps, boxes, training and evaluation.

Nothing under this package may import Qt (PySide6, pyqtgraph, superqt); a test enforces it.

The package reads one way: a module imports only from its own layer or the layers below it
(tests/engine/test_import_graph.py holds the table and fails on an import of a higher layer, at
module or function level). From the bottom up:

1. base: ``errors``, ``util``, ``paths``, ``entry_files``, ``device``, ``colormaps``, ``sqlite_store``, ``memory``;
2. records, the shapes results take: ``results``, ``case_call``, ``measure``, ``report_line``, ``priors``;
3. readers and models: ``io``, ``preprocess``, ``outputs``, ``data``, ``models``, ``explain``, ``evaluate``
   (the metrics);
4. catalogue, what the installed models are and claim: ``zoo`` (cards, folders, loading), ``site``
   (profiles);
5. runtime, running a model on films: ``backends``, ``gate``, ``pipeline``, ``render``, ``ensemble``;
6. prediction: ``inference``, ``result_cache``, ``reviews``, ``annotations``, ``worklist``, ``export``,
   ``dicom_export``, ``shard``;
7. workflows built on prediction: ``train``, ``bench``, ``precision_proof``, ``gate.fit``, ``site.fit``,
   ``zoo.publish``, ``zoo.importers``, ``zoo.fetch`` (a package's workflow module sits above the rest
   of its package);

and above the engine, the front ends ``chestview.cli`` and ``chestview.gui``, which the engine never
imports. An import inside a function is there only to keep torch, sklearn or Qt out of a start-up,
and says so in a comment.
"""
