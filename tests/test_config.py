import typing
from dataclasses import fields
from typing import Optional

import pytest

from mtlib.config import RunConfig


@pytest.mark.parametrize("changes, names", [
    ({"method": "fixmatch"}, "method='fixmatch' is unknown"),
    ({"dataset": "mnist"}, "dataset='mnist'"),
    ({"arch": "vgg"}, "arch='vgg'"),
    ({"ema_decay": 1.0}, r"ema_decay=1.0 is outside \[0, 1\)"),
    ({"ema_decay": -0.5}, "ema_decay"),
    ({"consistency_weight": -1.0}, "consistency_weight"),
    ({"steps": 0}, "steps"),
    ({"input_noise": -0.1}, "input_noise"),
    ({"translate": -2}, "translate"),
    ({"labeled_per_batch": 101, "batch_size": 100}, "labeled_per_batch=101"),
    ({"n_labels": 0}, "n_labels"),
    ({"dropout": 1.0}, "dropout"),
    ({"consistency_tau": 2.0}, "consistency_tau"),
    ({"logit_distance_weight": 0.1}, "two_heads"),
    ({"n_labels": 500, "max_train": 400}, "n_labels=500 is more than max_train=400"),
])
def test_bad_values_name_the_parameter(changes, names):
    with pytest.raises(ValueError, match=names):
        RunConfig(**{"steps": 10, "rampdown_steps": 0, "rampup_steps": 0, **changes})


def test_unknown_key_is_rejected_by_name():
    with pytest.raises(ValueError, match="emadecay"):
        RunConfig.from_dict({"emadecay": 0.9})


def test_round_trip_and_replace():
    cfg = RunConfig(steps=10, rampdown_steps=5)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    other = cfg.replace(ema_decay=0.9)
    assert other.ema_decay == 0.9 and cfg.ema_decay == 0.999
    with pytest.raises(ValueError, match="ema_decay"):
        cfg.replace(ema_decay=1.2)


@pytest.mark.parametrize("changes, message", [
    ({"steps": "abc"}, "steps='abc' must be an integer"),      # papermill `-p steps abc`
    ({"steps": 10.0}, "steps=10.0 must be an integer"),
    ({"n_labels": True}, "n_labels=True must be an integer"),
    ({"flip": 1}, "flip=1 must be True or False"),
    ({"lr": "0.1"}, "lr='0.1' must be a number"),
    ({"lr": False}, "lr=False must be a number"),
    ({"method": 3}, "method=3 must be a string"),
    ({"classes": "cat"}, "classes='cat' must be a list of strings or None"),
    ({"classes": ["cat", 3]}, r"classes=\['cat', 3\] must be a list of strings or None"),
    ({"max_train": "all"}, "max_train='all' must be an integer or None"),
])
def test_types_are_checked_from_the_field_annotations(changes, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{"steps": 10, "rampdown_steps": 0, "rampup_steps": 0, **changes})


def test_float_fields_take_ints_and_optional_fields_none():
    cfg = RunConfig(steps=10, rampdown_steps=0, lr=1, consistency_weight=30, classes=None, max_train=None)
    # an int in a float field becomes a float: papermill's -p consistency_weight 30 is the run of 30.0
    assert type(cfg.lr) is float and cfg.consistency_weight == 30.0 and type(cfg.consistency_weight) is float
    assert cfg.to_dict() == RunConfig(steps=10, rampdown_steps=0, lr=1.0, consistency_weight=30.0).to_dict()


def test_committed_results_keep_their_identity():
    """Every committed results file of this results version survives validation with the same identity
    and its file name's key, so chapters find it; none holds a machine path."""
    import json
    from pathlib import Path

    import re

    from mtlib.results import NOT_SAVED, RESULTS_FORMAT, RESULTS_VERSION, identity, result_path, run_key

    files = sorted(Path(__file__).resolve().parents[1].glob("book/results/*/*.json"))
    assert len(files) > 100
    for path in files:
        data = json.loads(path.read_text())
        if data.get("format") != RESULTS_FORMAT:      # e.g. the toy chapter's saved fits
            continue
        assert all(data["config"][k] is None for k in NOT_SAVED), path
        strings = [v for part in ("config", "provenance") for v in data[part].values() if isinstance(v, str)]
        assert not [v for v in strings if re.match(r"(/|~|[A-Za-z]:[\\/])", v)], f"{path} holds a machine path"
        if data["results_version"] != RESULTS_VERSION:
            continue
        config = data["config"]
        assert result_path(path.parent, config) == path and data["key"] == run_key(config), path
        again = RunConfig.from_dict(config).to_dict()
        assert json.dumps(identity(again), sort_keys=True) == json.dumps(identity(config), sort_keys=True), path
        assert run_key(again) == run_key(config), path


# every float / Optional[float] knob, read from the dataclass annotations (a new one is covered too)
_FLOAT_FIELDS = [f.name for f in fields(RunConfig)
                 if typing.get_type_hints(RunConfig)[f.name] in (float, Optional[float])]


def test_float_fields_come_from_the_annotations():
    assert {"lr", "consistency_weight", "adam_beta1", "adam_beta2", "ema_decay", "consistency_tau",
            "width", "dropout", "nesterov_momentum"} <= set(_FLOAT_FIELDS)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", _FLOAT_FIELDS)
def test_float_fields_refuse_nan_and_infinity(name, value):
    """NaN passes every range check (all comparisons are False) and inf passes the lower bounds: both
    would fail later, inside the optimizer; the type check refuses them by name."""
    with pytest.raises(ValueError, match=rf"^{name}={value!r} must be a finite number"):
        RunConfig(**{"steps": 10, "rampdown_steps": 0, "rampup_steps": 0, name: value})


def test_train_refuses_nan_before_training(monkeypatch):
    import mtlib
    import mtlib.runs as runs

    def no_trainer(*args, **kwargs):
        raise AssertionError("a Trainer was built for an invalid config")

    monkeypatch.setattr(runs, "Trainer", no_trainer)
    with pytest.raises(ValueError, match=r"^lr=nan must be a finite number"):
        mtlib.train(lr=float("nan"))
