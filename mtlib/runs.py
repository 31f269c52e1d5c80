"""Run-or-load: what a chapter calls to get a run's result at its parameters.

A results file for exactly these parameters and this mtlib version is loaded; otherwise the run
trains (CPU scale in the book, paper scale through papermill on a GPU) and saves its file, so a
later build, a table or a re-run of the chapter picks it up. Data are prepared once per distinct
data identity and shared between the runs of a grid. :func:`compute_or_load` is the same rule for any
smaller computation whose result is a dict of JSON values (the toy chapter's fits).
"""
import itertools
import os
import time
from pathlib import Path

import mtlib

from mtlib.config import RunConfig
from mtlib.results import (MATCHING, matching_results, record_path, record_provenance, record_status, result_path,
                           result_status, save_record)
from mtlib.data import load_data
from mtlib.training.trainer import Trainer

DATA_KEYS = ("dataset", "data_root", "download", "n_labels", "seed", "n_val", "normalization",
             "classes", "max_train", "image_size")


def book_results_dir(scale):
    """The book's committed results/<scale> folder (next to the chapters), whatever $MTLIB_RESULTS says."""
    repo_book = Path(mtlib.__file__).resolve().parent.parent / "book"
    return (repo_book if repo_book.is_dir() else Path.cwd()) / "results" / scale


def results_dir(scale="cpu"):
    """Where a scale's results files live: $MTLIB_RESULTS/<scale>, else the book's results/<scale>."""
    base = os.environ.get("MTLIB_RESULTS")
    return Path(base) / scale if base else book_results_dir(scale)


def data_key(cfg):
    return tuple(str(getattr(cfg, k)) for k in DATA_KEYS)


class DataCache:
    """Prepared data by data identity, so a grid of runs decodes and whitens each split once."""

    def __init__(self):
        self._data = {}

    def get(self, cfg):
        key = data_key(cfg)
        if key not in self._data:
            self._data = {key: load_data(cfg)}   # keep one: datasets are large
        return self._data[key]


_SHARED = DataCache()


def run_or_load(cfg, results_dir, retrain=False, progress=False, data_cache=_SHARED, save=True):
    """The RunResult of ``cfg``: loaded from ``results_dir`` if a matching file exists, else trained.

    ``retrain=True`` ignores a saved file. ``save=False`` (smoke runs) writes nothing.
    """
    cfg = cfg if isinstance(cfg, RunConfig) else RunConfig.from_dict(dict(cfg))
    if results_dir is not None and not retrain:
        status, found = result_status(results_dir, cfg.to_dict())
        if status == MATCHING:
            found.provenance.setdefault("loaded_from", str(result_path(results_dir, cfg.to_dict())))
            return found
    result = Trainer(cfg, data_cache.get(cfg)).run(progress=progress)
    if save and results_dir is not None:
        result.save(result_path(results_dir, cfg.to_dict()))
    return result


def grid(base, **axes):
    """Configs for every combination of ``axes`` (name -> list of values) applied to ``base``."""
    names = list(axes)
    return [base.replace(**dict(zip(names, values))) for values in itertools.product(*axes.values())]


def run_grid(configs, results_dir, **kwargs):
    """run_or_load over a list of configs, in order (runs sharing data reuse it)."""
    return [run_or_load(c, results_dir, **kwargs) for c in configs]


def load_runs(configs, results_dir, train=False):
    """``(results, missing)``: with ``train`` every run (run_grid: trained where its file is missing, missing
    0); else only the runs whose results file matches, and how many do not (a chapter that shows what is
    committed and names what is not run yet, training nothing)."""
    if train:
        return run_grid(configs, results_dir, save=results_dir is not None), 0
    return matching_results(results_dir, [c.to_dict() for c in configs])


def compute_or_load(results_dir, name, params, version, compute, retrain=False):
    """``(data, loaded)``: the ``data`` of the record for ``params`` and ``version`` in ``results_dir``
    (file :func:`mtlib.results.record_path`), loaded when it matches both (unless ``retrain``); otherwise
    ``compute()``, a dict of JSON values, saved there atomically with its provenance. ``results_dir=None``:
    compute, save nothing."""
    if results_dir is None:
        return compute(), False
    path = record_path(results_dir, name, params, version)
    if not retrain:
        status, record = record_status(path, params, version)
        if status == MATCHING:
            return record["data"], True
    start = time.perf_counter()
    data = compute()
    save_record(path, params, version, data, record_provenance(time.perf_counter() - start))
    return data, False


def train(cfg=None, data=None, progress=True, resume=True, **params):
    """Train one run: ``train(method="mean_teacher", n_labels=1000, steps=2000, ...)`` (the parameters are
    RunConfig's, checked before anything is built), or ``train(cfg, seed=1)``."""
    if cfg is None:
        cfg = RunConfig(**params)
    elif params:
        cfg = cfg.replace(**params)
    return Trainer(cfg, data).run(progress=progress, resume=resume)
