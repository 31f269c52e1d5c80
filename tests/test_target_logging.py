"""The targets' accuracy (paper Sec. 1-2): logged by the trainer, hidden from every method."""
import dataclasses

import pytest
import torch

from mtlib.data.splits import NO_LABEL
from mtlib.training.trainer import UNLABELED_EVAL_SIZE, Trainer
from test_trainer import tiny_cfg, tiny_data

SEMI = ["pi", "temporal_ensembling", "mean_teacher"]


def _other_hidden_labels(data, how):
    """The same data with the true labels of the unlabeled images shuffled ("permuted") or all set to
    one class ("constant"); the labeled images' labels are kept."""
    labels = data.train_labels.clone()
    unl = data.unlabeled_idx
    if how == "permuted":
        labels[unl] = labels[unl[torch.randperm(len(unl), generator=torch.Generator().manual_seed(5))]]
    else:
        labels[unl] = 0
    assert not torch.equal(labels, data.train_labels)
    return dataclasses.replace(data, train_labels=labels)


@pytest.mark.parametrize("how", ["permuted", "constant"])
@pytest.mark.parametrize("method", ["supervised", *SEMI])
def test_hidden_labels_cannot_reach_the_loss(method, how):
    """Other true labels for the unlabeled images leave every loss and every weight bit-identical;
    only the logged accuracies change."""
    data = tiny_data()
    cfg = tiny_cfg(method=method, labeled_per_batch=5, precision="fp32")
    a = Trainer(cfg, data)            # each built right before its run: dropout draws from torch's global RNG
    ra = a.run(progress=False)
    b = Trainer(cfg, _other_hidden_labels(data, how))
    rb = b.run(progress=False)
    for row_a, row_b in zip(ra.history, rb.history):
        for k in row_a:
            if k.startswith("train_") and "accuracy" not in k:
                assert row_a[k] == row_b[k], k
        assert row_a["ema_test_error"] == row_b["ema_test_error"]
    for (name, pa), pb in zip(a.student.state_dict().items(), b.student.state_dict().values()):
        assert torch.equal(pa, pb), name
    for pa, pb in zip(a.ema.state_dict().values(), b.ema.state_dict().values()):
        assert torch.equal(pa, pb)
    logged = lambda res: [(r["ema_unlabeled_error"], r.get("train_target_accuracy")) for r in res.history]
    if how == "constant" or method != "supervised":   # a constant prediction has one error under any shuffle
        assert logged(ra) != logged(rb)


@pytest.mark.parametrize("method", SEMI)
def test_every_row_has_target_and_student_accuracy(method):
    res = Trainer(tiny_cfg(method=method, steps=24, eval_every=8, labeled_per_batch=5), tiny_data()).run(progress=False)
    for row in res.history[1:]:      # TE has no target during its first epoch (3 steps here)
        assert 0.0 <= row["train_target_accuracy"] <= 100.0
        assert 0.0 <= row["train_student_accuracy"] <= 100.0
    for row in res.history:
        assert 0.0 <= row["student_unlabeled_error"] <= 100.0 and 0.0 <= row["ema_unlabeled_error"] <= 100.0
    assert "ema_unlabeled_error" in res.final


def test_supervised_logs_no_target_but_the_unlabeled_error():
    res = Trainer(tiny_cfg(method="supervised"), tiny_data()).run(progress=False)
    assert all("train_target_accuracy" not in r for r in res.history)
    assert all("ema_unlabeled_error" in r for r in res.history)


class _Fixed:
    """A method stand-in whose predictions are given."""

    def __init__(self, student, target):
        self.pair = (student, target)

    def take_predictions(self):
        pair, self.pair = self.pair, None
        return pair


def test_accuracy_counts_unlabeled_images_only_by_hand():
    tr = Trainer(tiny_cfg(method="pi"), tiny_data())
    tr._sums, tr._count = {}, 1
    index = torch.tensor([0, 10, 11, 12])
    tr.true_y = torch.zeros(60, dtype=torch.long)
    tr.true_y[index] = torch.tensor([0, 1, 2, 1])
    labels = torch.tensor([0, NO_LABEL, NO_LABEL, NO_LABEL])
    one_hot = lambda cls: torch.nn.functional.one_hot(torch.tensor(cls), 3).float()
    # target right on images 10 and 12 (2 of 3 unlabeled), student right on image 11 only (1 of 3);
    # the labeled image 0 is right for the target and wrong for the student and must not count
    tr.method = _Fixed(student=one_hot([1, 2, 2, 0]), target=one_hot([0, 1, 0, 1]))
    tr._log_targets(index, labels)
    assert tr.method.take_predictions() is None   # consumed: a step without a target logs nothing
    row = tr.evaluate_now()
    assert row["train_target_accuracy"] == pytest.approx(200 / 3)
    assert row["train_student_accuracy"] == pytest.approx(100 / 3)
    assert not any(k in row for k in ("train_unlabeled_seen", "train_target_correct"))


def test_unlabeled_subset_is_fixed_and_unlabeled():
    data = tiny_data()
    a, b = Trainer(tiny_cfg(), data), Trainer(tiny_cfg(), data)
    assert torch.equal(a.unlabeled_eval_idx, b.unlabeled_eval_idx)
    assert len(a.unlabeled_eval_idx) == min(UNLABELED_EVAL_SIZE, len(data.unlabeled_idx))
    assert set(a.unlabeled_eval_idx.tolist()) <= set(data.unlabeled_idx.tolist())
    assert len(Trainer(tiny_cfg(max_test=10), data).unlabeled_eval_idx) == 10   # never more than the test subset
