"""The Mean Teacher chapter's from-scratch loop computes what mtlib's Trainer computes.

The loop is taken from the chapter itself (the code cell with id ``mt-scratch-loop``), run on a
small synthetic problem, and compared step by step with ``Trainer.train_step`` on the same data,
network and seeds. Each of a few one-line mistakes (no EMA update, a consistency cost without its
gradient, a classification cost averaged over the labeled images, one noise draw for both views,
no ramp-up) must make the comparison fail: the check can tell a wrong loop from a right one.
"""
import json
from pathlib import Path

import pytest
import torch

from mtlib.book.scratch import (check_comparable, differences, loop_arguments, model_for, mtlib_steps,
                                same_run, scratch_config)
from mtlib.data.prepare import SemiSupervisedData
from mtlib.data.splits import masked_labels

CHAPTER = Path(__file__).resolve().parent.parent / "book" / "mean_teacher.ipynb"
CELL_ID = "mt-scratch-loop"

# (what goes wrong, the line as the chapter writes it, the line with the mistake)
MISTAKES = [
    ("no EMA update", "p_teacher.mul_(alpha).add_(p_student, alpha=1 - alpha)", "pass"),
    ("consistency cost without gradient", "(F.softmax(logits, dim=1) - target)", "(F.softmax(logits.detach(), dim=1) - target)"),
    ("classification averaged over labeled images", 'reduction="sum") / batch_size', 'reduction="mean")'),
    ("consistency summed over classes", ".mean(dim=1).sum() / batch_size", ".sum(dim=1).sum() / batch_size"),
    ("one noise draw for both views", "x_teacher = x[i] + sigma * torch.randn(x[i].shape, generator=noise)",
     "x_teacher = x_student"),
    ("no ramp-up", "ramp = math.exp(-5 * (1 - min(t / rampup, 1)) ** 2)", "ramp = 1.0"),
]


def loop_source():
    cells = [c for c in json.loads(CHAPTER.read_text())["cells"] if c.get("id") == CELL_ID]
    assert len(cells) == 1, f"{CHAPTER.name} must hold one code cell with id {CELL_ID!r}"
    return "".join(cells[0]["source"])


def make_loop(source):
    namespace = {}
    exec(compile(source, CELL_ID, "exec"), namespace)
    return namespace["mean_teacher"]


def synthetic_data(n=200, n_labels=20, num_classes=4, size=16, seed=0):
    """Random images whose class shifts one colour channel, a labeled subset; no validation images."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    x = torch.randn(n, 3, size, size, generator=g)
    x[:, 0] += labels[:, None, None].float() - num_classes / 2
    labeled = torch.cat([torch.nonzero(labels == c).flatten()[:n_labels // num_classes] for c in range(num_classes)])
    unlabeled = torch.tensor(sorted(set(range(n)) - set(labeled.tolist())))
    return SemiSupervisedData(train_x=x, train_labels=labels, train_y_masked=masked_labels(labels, labeled),
                              labeled_idx=labeled, unlabeled_idx=unlabeled, val_x=torch.empty(0, 3, size, size),
                              val_y=torch.empty(0, dtype=torch.long), test_x=x[:40], test_y=labels[:40],
                              classes=[str(c) for c in range(num_classes)], num_classes=num_classes)


@pytest.fixture(scope="module")
def problem():
    cfg = scratch_config(batch_size=20, steps=24, rampup_steps=12, max_train=200, n_labels=20)
    data = synthetic_data()
    check_comparable(cfg, len(data.train_labels))
    return cfg, data, mtlib_steps(cfg, data)


def run_loop(loop, cfg, data):
    return loop(model_for(cfg, data), data.train_x, data.train_y_masked, **loop_arguments(cfg))


def test_the_chapters_loop_matches_mtlibs_trainer(problem):
    cfg, data, reference = problem
    scratch = run_loop(make_loop(loop_source()), cfg, data)
    diffs = differences(scratch, reference)
    assert same_run(diffs, tol=1e-5), diffs
    # the run did something: the weights moved, the teacher is not the student, the weight ramped up
    student, teacher, log = scratch
    assert differences(scratch, (student, student, log))["teacher weights"] > 1e-4
    assert log[0]["weight"] == pytest.approx(cfg.consistency_weight * 2.718281828459045 ** -5)
    assert log[-1]["weight"] == cfg.consistency_weight
    assert any(row["classification"] > 0 for row in log) and all(row["consistency"] > 0 for row in log)
    initial = model_for(cfg, data)
    assert differences(scratch, (initial, teacher, log))["student weights"] > 1e-3


@pytest.mark.parametrize("mistake, line, wrong", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_breaks_the_match(problem, mistake, line, wrong):
    cfg, data, reference = problem
    source = loop_source()
    assert source.count(line) == 1, f"the chapter's loop no longer has the line {line!r}"
    scratch = run_loop(make_loop(source.replace(line, wrong)), cfg, data)
    assert not same_run(differences(scratch, reference)), f"{mistake}: the check does not see it"


def test_check_comparable_refuses_what_the_loop_does_not_do():
    data = synthetic_data()
    for change in (dict(translate=1), dict(flip=True), dict(rampdown_steps=10), dict(consistency_on="unlabeled"),
                   dict(ema_schedule="warm_start"), dict(adam_beta2=0.999)):
        with pytest.raises(ValueError):
            check_comparable(scratch_config(**change), len(data.train_labels))
    with pytest.raises(ValueError, match="whole number of batches"):
        check_comparable(scratch_config(batch_size=30), 200)
