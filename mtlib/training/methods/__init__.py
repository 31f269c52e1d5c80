"""The four methods of Tables 1-2, each a small object the one trainer drives."""
from mtlib.models import split_heads  # noqa: F401  (its home is mtlib.models)
from mtlib.training.methods.base import Method
from mtlib.training.methods.mean_teacher import MeanTeacher
from mtlib.training.methods.pi_model import PiModel
from mtlib.training.methods.supervised import Supervised
from mtlib.training.methods.temporal_ensembling import TemporalEnsembling

METHOD_CLASSES = {cls.name: cls for cls in (Supervised, PiModel, TemporalEnsembling, MeanTeacher)}


def make_method(name, *args, **kwargs):
    """Instantiate the method called ``name`` (see METHOD_CLASSES)."""
    if name not in METHOD_CLASSES:
        raise ValueError(f"method={name!r} is unknown; choose one of {', '.join(METHOD_CLASSES)}")
    return METHOD_CLASSES[name](*args, **kwargs)


__all__ = ["Method", "MeanTeacher", "PiModel", "Supervised", "TemporalEnsembling",
           "METHOD_CLASSES", "make_method", "split_heads"]
