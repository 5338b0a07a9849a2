"""`actmax atlas`: every unit of a model in a static, browsable site.

For each unit of the chosen layers: its feature visualization from several seeds, the real
inputs that drive it most and least with its activation map laid over them, and the histogram
of its activation over a data set. The work is cut into shards (see `plan`) that run in this
process or as Ray tasks (`ray_runner`), each written to its own file as it finishes, so an
interrupted run resumes where it stopped.

    from actmax.atlas import build_atlas
    summary = build_atlas("runs/lab", "mnist", "atlas-out", layers="l1,l2", ray="auto")
"""

from .build import AtlasSummary, build_atlas
from .data import Dataset, open_data
from .model import open_model
from .plan import AtlasSettings, Plan, make_plan

__all__ = [
    "AtlasSettings",
    "AtlasSummary",
    "Dataset",
    "Plan",
    "build_atlas",
    "make_plan",
    "open_data",
    "open_model",
]
