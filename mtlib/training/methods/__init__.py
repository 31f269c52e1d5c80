"""The four methods of Tables 1-2 and VAT with its Mean Teacher combinations, each a small object the one
trainer drives."""
from mtlib.models import split_heads  # noqa: F401  (its home is mtlib.models)
from mtlib.training.methods.base import Method
from mtlib.training.methods.mean_teacher import MeanTeacher
from mtlib.training.methods.pi_model import PiModel
from mtlib.training.methods.supervised import Supervised
from mtlib.training.methods.temporal_ensembling import TemporalEnsembling
from mtlib.training.methods.vat import VAT, VAT_TARGETS, MeanTeacherVAT

METHOD_CLASSES = {cls.name: cls for cls in (Supervised, PiModel, TemporalEnsembling, MeanTeacher, VAT,
                                            MeanTeacherVAT)}


def make_method(name, *args, **kwargs):
    """Instantiate the method called ``name`` (see METHOD_CLASSES)."""
    if name not in METHOD_CLASSES:
        raise ValueError(f"method={name!r} is unknown; choose one of {', '.join(METHOD_CLASSES)}")
    return METHOD_CLASSES[name](*args, **kwargs)


def reported_metric(method, split="test"):
    """The final metric a method's table reports: its ``Method.reported_model``'s error on ``split``
    ("ema_test_error"; Temporal Ensembling's raw network, "student_test_error", as Laine & Aila
    report it). Its weight is chosen on the same model's validation error (``mtlib.book.validation``)."""
    if method not in METHOD_CLASSES:
        raise ValueError(f"method={method!r} is unknown; choose from {sorted(METHOD_CLASSES)}")
    return f"{METHOD_CLASSES[method].reported_model}_{split}_error"


__all__ = ["Method", "MeanTeacher", "MeanTeacherVAT", "PiModel", "Supervised", "TemporalEnsembling", "VAT",
           "VAT_TARGETS", "METHOD_CLASSES", "make_method", "reported_metric", "split_heads"]
