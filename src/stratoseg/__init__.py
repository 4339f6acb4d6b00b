"""StratoSeg: block-wise U-Net segmentation of tomograms and microscopy stacks.

The top-level package imports nothing heavy: no Qt, no torch, no napari. Use the sub-packages,
e.g. :func:`stratoseg.io.open_volume` or :class:`stratoseg.workspace.Workspace`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
