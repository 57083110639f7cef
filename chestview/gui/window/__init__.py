"""The main window, split by concern: each module holds one mixin of :class:`MainWindow`."""
