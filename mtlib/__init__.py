"""mtlib: Mean Teacher (Tarvainen & Valpola, NIPS 2017), the Pi model and Temporal Ensembling.

The folders are the layers, and imports only go down:
``data`` (datasets, splits, batches, noise, normalisation) and ``models`` at the bottom,
``config`` (every knob, validated once) above them, ``training`` (losses, ramps, schedules, the
EMA teacher, the methods, the trainer), ``results`` and ``runs`` (run-or-load), then ``book``
(what chapters call) and ``reproduce`` (the paper's experiments, the CLI, torchrun).
"""

__version__ = "0.3.0"

from mtlib.config import RunConfig  # noqa: E402
from mtlib.results import RunResult, load_result  # noqa: E402
from mtlib.runs import run_or_load, train  # noqa: E402
from mtlib.training.trainer import Trainer  # noqa: E402

__all__ = ["RunConfig", "RunResult", "Trainer", "load_result", "run_or_load", "train", "__version__"]
