"""napari dock widgets: the only package of StratoSeg that imports Qt.

This ``__init__`` imports nothing: the npe2 manifest points straight at each widget module
(e.g. ``stratoseg.widgets.workspace:WorkspaceWidget``), so importing ``stratoseg.widgets`` never
pulls in Qt.
"""
