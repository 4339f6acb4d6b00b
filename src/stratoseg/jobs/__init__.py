"""Work as the user runs it, shared by the command line and the widgets.

- :func:`segment_recipe` / :class:`SegmentRecipe`: what a segmentation applies (the model
  card's recommendation item by item, unless the user overrides it) and the notices to show.
- :func:`run_segment`: prediction, then the recipe's post-processing.
- :func:`domain_notice`: whether an image is far from a model's training data.

Sits above ``inference`` and ``postprocess`` (it combines them) and below ``cli`` and
``widgets``; imports neither Qt nor torch until a model runs.
"""

from stratoseg.jobs._items import stack_note
from stratoseg.jobs._recipe import SegmentRecipe, segment_recipe
from stratoseg.jobs._segment import domain_notice, run_segment

__all__ = ["SegmentRecipe", "domain_notice", "run_segment", "segment_recipe", "stack_note"]
