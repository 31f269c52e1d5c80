import pytest

from mtlib.config import RunConfig


@pytest.mark.parametrize("changes, names", [
    ({"method": "vat"}, "method='vat' is unknown"),
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
