"""The OME-Zarr workspace of one sample: raw pyramid, channels, predictions, labels, journal.

See ``docs/workspace.md`` for the layout.
"""

from stratoseg._errors import WorkspaceLockedError
from stratoseg.workspace._create import DEFAULT_CHUNKS, create_workspace, default_chunks
from stratoseg.workspace._edits import Edit, EditLog
from stratoseg.workspace._journal import Journal
from stratoseg.workspace._runs import PredictionRun, open_prediction_run
from stratoseg.workspace._workspace import FORMAT_VERSION, Workspace, check_name, is_workspace

__all__ = [
    "DEFAULT_CHUNKS",
    "FORMAT_VERSION",
    "Edit",
    "EditLog",
    "Journal",
    "PredictionRun",
    "Workspace",
    "WorkspaceLockedError",
    "check_name",
    "create_workspace",
    "default_chunks",
    "is_workspace",
    "open_prediction_run",
]
