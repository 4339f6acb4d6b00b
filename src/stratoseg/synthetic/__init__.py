"""Synthetic images with ground truth, generated lazily block by block (any size, seeded).

- :func:`make_composite`: a glass-fibre composite in X-ray CT (semantic: matrix, fibre, pore).
- :func:`make_cells`: clustered, touching cells or nuclei (instances), 2-D or 3-D.
- :func:`make_membranes`: an EM-like warped Voronoi tessellation (instances, 0 on membranes).
- :func:`probability_map`: a blurred, noisy class probability map from known classes (numpy).

Each returns a :class:`SyntheticVolume` of dask arrays; nothing is computed until asked for, and
the result depends on ``shape``, ``seed`` and the parameters only, never on ``chunks``.
"""

from stratoseg.synthetic._cells import make_cells
from stratoseg.synthetic._common import SyntheticVolume
from stratoseg.synthetic._composite import make_composite
from stratoseg.synthetic._membranes import make_membranes
from stratoseg.synthetic._probabilities import probability_map

__all__ = [
    "SyntheticVolume",
    "make_cells",
    "make_composite",
    "make_membranes",
    "probability_map",
]
