"""mtlib.book.toy and toy_plots: the Figure 1 toy problem (data, the eight panels, their targets, their
results files) and its pictures; the keyed records of mtlib.results it is saved with. The comparisons
over seeds: tests/test_toy_study.py."""

import matplotlib
import pytest
import torch

from mtlib import results as mres
from mtlib.book import toy, toy_plots
from mtlib.models import ToyNet
from mtlib.training.ema import make_teacher

matplotlib.use("Agg")
from mtlib.data.splits import NO_LABEL  # noqa: F401  (the toy uses the shared NO_LABEL convention)

FAST = dict(steps=150, n_unlabeled=40)


def test_data_shapes_and_labels():
    d = toy.make_toy_data(0, n_unlabeled=30, n_test=50)
    assert d.x_labeled.shape == (2, 1) and d.y_labeled.tolist() == [0, 1]
    assert d.x_labeled[:, 0].tolist() == [-1.0, 1.0]
    assert d.x_unlabeled.shape == (30, 1) and d.y_unlabeled.shape == (30,)
    assert d.x_test.shape == (50, 1) and d.y_test.dtype == torch.int64
    assert int(d.y_test.sum()) == 25  # half from each cluster
    assert d.x_labeled[0, 0] < d.best_boundary < d.x_labeled[1, 0]


def test_data_is_seeded():
    a, b, c = toy.make_toy_data(3), toy.make_toy_data(3), toy.make_toy_data(4)
    assert torch.equal(a.x_unlabeled, b.x_unlabeled) and torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.x_unlabeled, c.x_unlabeled)


@pytest.mark.parametrize("panel", toy.PANELS)
def test_each_panel_runs_and_gives_probabilities(panel):
    r = toy.fit_panel(panel, seed=0, **FAST)
    assert r.panel == panel and r.grid.shape == r.student_prob.shape
    assert 0.0 <= float(r.student_prob.min()) and float(r.student_prob.max()) <= 1.0
    assert 0.0 <= r.test_error <= 1.0
    if panel in "cdspew":
        assert 0.0 <= float(r.teacher_prob.min()) and float(r.teacher_prob.max()) <= 1.0
        assert r.targets.shape == (40,) and 0.0 <= float(r.targets.min()) <= float(r.targets.max()) <= 1.0
    else:
        assert r.teacher_prob is None and r.targets is None


def test_fit_is_deterministic():
    r1, r2 = toy.fit_panel("e", seed=1, **FAST), toy.fit_panel("e", seed=1, **FAST)
    assert torch.equal(r1.student_prob, r2.student_prob) and r1.test_error == r2.test_error


def test_panel_a_fits_the_labeled_points():
    r = toy.fit_panel("a", seed=0, **FAST)
    with torch.no_grad():
        p = torch.softmax(r.model(r.data.x_labeled), dim=1)[:, 1]
    assert float(p[0]) < 0.1 and float(p[1]) > 0.9


def test_frozen_teacher_is_panel_a():
    a = toy.fit_panel("a", seed=2, **FAST)
    c = toy.fit_panel("c", seed=2, **FAST)
    assert torch.equal(a.student_prob, c.teacher_prob)
    reused = toy.fit_panel("c", seed=2, teacher=a.model, **FAST)
    assert torch.equal(reused.student_prob, c.student_prob)


def test_pi_panel_teacher_is_the_student_with_gradient_through_both_passes():
    """(p): the target is the student's own second noisy pass, and the gradient flows through it."""
    r = toy.fit_panel("p", seed=0, **FAST)
    assert torch.equal(r.teacher_prob, r.student_prob) and r.teacher_boundary == r.boundary
    student, g = r.model, torch.Generator().manual_seed(0)
    x_u = r.data.x_unlabeled
    t = toy.teacher_logits("p", student, None, x_u, 0.15, g)
    assert t.requires_grad
    t.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    # sigma = 0: the target is exactly the student's prediction
    assert torch.allclose(toy.teacher_logits("p", student, None, x_u, 0.0, g), student(x_u))


def test_self_teacher_target_is_the_students_clean_prediction_without_gradient():
    """(s): the target is the student's own prediction at the clean point, a constant for the optimiser."""
    r = toy.fit_panel("s", seed=0, **FAST)
    assert torch.equal(r.teacher_prob, r.student_prob) and r.teacher_test_error == r.test_error
    x_u, g = r.data.x_unlabeled, torch.Generator().manual_seed(0)
    t = toy.teacher_logits("s", r.model, None, x_u, 0.15, g)
    assert not t.requires_grad and torch.equal(t, r.model(x_u).detach())
    assert torch.equal(t, toy.teacher_logits("s", r.model, None, x_u, 0.5, g))   # no noise on this teacher
    assert torch.allclose(r.targets, r.model(x_u).softmax(1)[:, 1].detach())
    want = float(((r.targets - r.data.y_unlabeled.float()) ** 2).mean())
    assert r.target_error == pytest.approx(want)


def test_ema_and_frozen_targets_carry_no_gradient():
    student = ToyNet()
    teacher = make_teacher(student)
    x_u, g = torch.zeros(5, 1), torch.Generator().manual_seed(0)
    assert not toy.teacher_logits("e", student, teacher, x_u, 0.1, g).requires_grad
    fixed = torch.randn(5, 2)
    assert toy.teacher_logits("c", student, None, x_u, 0.1, g, fixed) is fixed
    assert toy.teacher_logits("d", student, None, x_u, 0.1, g, fixed) is fixed


def test_noise_averaged_targets_are_the_mean_of_noisy_predictions():
    """(d): the target is the mean of n noisy teacher softmaxes (Fig. 1d); sigma = 0 gives the clean one."""
    model, x = ToyNet(), torch.linspace(-1, 1, 7)[:, None]
    clean = torch.softmax(model(x), 1).detach()
    avg = toy.noise_averaged_logits(model, x, 0.0, 4, torch.Generator().manual_seed(0)).softmax(1)
    assert torch.allclose(avg, clean, atol=1e-6)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    by_hand = torch.stack([torch.softmax(model(x + 0.3 * torch.randn(x.shape, generator=g2)), 1)
                           for _ in range(3)]).mean(0).detach()
    assert torch.allclose(toy.noise_averaged_logits(model, x, 0.3, 3, g1).softmax(1), by_hand, atol=1e-6)


def test_frozen_panels_share_the_teacher_and_d_only_changes_the_target():
    a = toy.fit_panel("a", seed=1, **FAST)
    c, d = (toy.fit_panel(p, seed=1, teacher=a.model, **FAST) for p in "cd")
    assert torch.equal(c.teacher_prob, d.teacher_prob) and c.teacher_test_error == d.teacher_test_error
    assert torch.allclose(c.targets, a.model(a.data.x_unlabeled).softmax(1)[:, 1].detach())
    assert not torch.allclose(c.targets, d.targets)


def test_too_large_weight_drowns_the_labels():
    """(w): with weight 1000 the consistency cost wins: the student is nearly flat at 1/2 and no longer
    fits the labeled points, while (p) with weight 10 fits them."""
    w, p = toy.fit_panel("w", seed=0), toy.fit_panel("p", seed=0)  # the chapter's scale: 400 steps
    assert w.consistency_weight == 1000.0 and p.consistency_weight == 10.0
    assert w.labeled_fit < 0.6 < 0.9 < p.labeled_fit
    assert w.max_margin < 0.1 < 0.4 < p.max_margin


def test_sweep_changes_only_the_swept_knob():
    rs = toy.sweep("ema_decay", [0.0, 0.9], seed=0, **FAST)
    assert [r.ema_decay for r in rs] == [0.0, 0.9] and all(r.panel == "e" for r in rs)
    rw = toy.sweep("consistency_weight", [1.0, 30.0], seed=0, **FAST)
    assert [r.consistency_weight for r in rw] == [1.0, 30.0]
    with pytest.raises(ValueError, match="swept"):
        toy.sweep("ema_decay", [0.5], ema_decay=0.9)
    figs = toy_plots.sweep_figures(rs, "ema_decay")
    assert len(figs) == 2 and "ema_decay = 0.9" in figs[1].axes[0].get_title()
    assert figs[0].get_size_inches().tolist() == figs[1].get_size_inches().tolist()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"panel='f'.*'a', 'b', 'c', 'd', 's', 'p', 'e', 'w'"):
        toy.fit_panel("f")
    with pytest.raises(ValueError, match="ema_decay"):
        toy.fit_panel("e", ema_decay=1.0)
    with pytest.raises(ValueError, match="teacher"):
        toy.fit_panel("e", teacher=torch.nn.Linear(1, 2))
    with pytest.raises(ValueError, match="n_unlabeled"):
        toy.make_toy_data(0, n_unlabeled=0)


def test_mean_teacher_beats_frozen_teacher_on_seed_0():
    """The chapter's claim at its default scale, one seed: (e) moves the boundary into the gap."""
    r = toy.fit_all([0], panels=("c", "e"))[0]
    assert list(r) == ["c", "e"]
    assert r["e"].test_error < r["c"].test_error
    assert r["e"].boundary > r["c"].boundary
    assert r["e"].target_error < r["c"].target_error


def test_plot_figure1_draws_every_panel_and_a_legend():
    from mtlib.book.widgets import figure_png
    results = toy.fit_all([0], **FAST)[0]
    fig = toy_plots.plot_figure1(results)
    assert len(fig.axes) == 8  # 2 rows of 4 panels, the legend below them
    assert [a.get_title()[:3] for a in fig.axes] == ["(a)", "(b)", "(c)", "(d)", "(s)", "(p)", "(e)", "(w)"]
    assert len(fig.legends) == 1
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"student", "teacher", "labeled", "best boundary"} <= set(labels)
    assert figure_png(fig)[:4] == b"\x89PNG"
    seven = toy_plots.plot_figure1([results[p] for p in "abcdpew"])   # a free cell holds the legend
    assert len(seven.axes) == 8 and seven.axes[7].get_legend() is not None
    with pytest.raises(ValueError, match="results"):
        toy_plots.plot_figure1([])


# ---- results files (fit_or_load): the chapter loads its panels instead of training them -------------
def _same(r1, r2):
    for name in ("grid", "student_prob", "teacher_prob", "x_unlabeled", "targets"):
        a, b = getattr(r1, name), getattr(r2, name)
        assert (a is None and b is None) or torch.equal(a, b), name
    for name in ("test_error", "teacher_test_error", "target_error", "boundary", "teacher_boundary",
                 "labeled_fit", "sigma", "consistency_weight", "ema_decay", "panel", "seed"):
        assert getattr(r1, name) == getattr(r2, name), name
    assert torch.equal(r1.data.x_test, r2.data.x_test) and r1.data.best_boundary == r2.data.best_boundary


@pytest.mark.parametrize("panel", ["a", "d", "s", "e"])
def test_fit_or_load_saves_then_loads_the_same_result(panel, tmp_path, monkeypatch):
    fresh = toy.fit_or_load(panel, seed=1, results_dir=tmp_path, **FAST)
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1 and files[0].name.startswith(f"toy-{panel}-seed1-")
    monkeypatch.setattr(toy, "fit_panel", lambda *a, **k: pytest.fail("a saved panel must not train again"))
    loaded = toy.fit_or_load(panel, seed=1, results_dir=tmp_path, **FAST)
    _same(fresh, loaded)
    assert loaded.model is None and fresh.model is not None


def test_fit_or_load_without_a_folder_trains_and_saves_nothing(tmp_path):
    r = toy.fit_or_load("b", seed=0, **FAST)
    assert r.model is not None and not list(tmp_path.iterdir())


def test_retrain_overwrites(tmp_path, monkeypatch):
    toy.fit_or_load("a", seed=0, results_dir=tmp_path, **FAST)
    calls = []
    real = toy.fit_panel
    monkeypatch.setattr(toy, "fit_panel", lambda *a, **k: calls.append(1) or real(*a, **k))
    toy.fit_or_load("a", seed=0, results_dir=tmp_path, retrain=True, **FAST)
    assert calls == [1] and len(list(tmp_path.glob("*.json"))) == 1


def test_panel_params_have_every_parameter_and_one_value_for_10_and_10_0(tmp_path):
    k = toy.panel_params("e", 3, consistency_weight=10, steps=150)
    assert k == toy.panel_params("e", 3, consistency_weight=10.0, steps=150.0)
    assert set(k) == {"panel", "seed", "steps", "sigma", "ema_decay", "n_unlabeled", "consistency_weight",
                      "large_weight", "n_teacher_noise", "lr", "hidden", "depth"}
    assert k == toy.panel_params("e", 3, steps=150)   # 10.0 is the default weight
    assert isinstance(k["steps"], int) and isinstance(k["consistency_weight"], float)
    path = lambda p: mres.record_path(tmp_path, toy.record_name(p), p, toy.TOY_VERSION)
    paths = {path(toy.panel_params("e", 3, **change)) for change in
             ({}, {"sigma": 0.3}, {"ema_decay": 0.99}, {"steps": 401})}
    paths |= {path(toy.panel_params("p", 3)), path(toy.panel_params("e", 4))}
    assert len(paths) == 6 and all(p.name.startswith("toy-") for p in paths)
    with pytest.raises(ValueError, match="unknown toy parameter"):
        toy.panel_params("e", 0, learning_rate=0.1)


def test_a_panel_file_is_a_record_with_provenance(tmp_path):
    toy.fit_or_load("c", seed=0, results_dir=tmp_path, **FAST)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))   # written atomically
    params = toy.panel_params("c", 0, **FAST)
    assert files[0] == mres.record_path(tmp_path, "toy-c-seed0", params, toy.TOY_VERSION)
    status, record = mres.record_status(files[0], params, toy.TOY_VERSION)
    assert status == mres.MATCHING and record["format"] == mres.RECORD_FORMAT
    assert record["key"] == mres.record_key(params, toy.TOY_VERSION) and record["params"] == params
    assert record["provenance"]["torch_version"] == torch.__version__ and record["provenance"]["wall_time_s"] > 0
    assert len(record["data"]["student_prob"]) == 401 and len(record["data"]["targets"]) == 40


def test_another_version_is_not_loaded(tmp_path, monkeypatch):
    toy.fit_or_load("a", seed=0, results_dir=tmp_path, **FAST)
    calls = []
    real = toy.fit_panel
    monkeypatch.setattr(toy, "fit_panel", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(toy, "TOY_VERSION", toy.TOY_VERSION + 1)
    toy.fit_or_load("a", seed=0, results_dir=tmp_path, **FAST)
    assert calls == [1] and len(list(tmp_path.glob("*.json"))) == 2   # trained again, a file of its own
    toy.fit_or_load("a", seed=0, results_dir=tmp_path, **{**FAST, "lr": 0.02})
    assert calls == [1, 1]                                               # other parameters: trained too


# ---- the keyed records of mtlib.results / mtlib.runs, which the toy's files are -----------------------
def test_record_round_trip_and_what_is_not_loaded(tmp_path):
    from mtlib.runs import compute_or_load
    params, data = {"n": 3, "x": 0.5, "name": "toy"}, {"values": [0.1, 0.25], "error": None}
    path = mres.record_path(tmp_path, "thing", params, 1)
    assert path.name == f"thing-{mres.record_key(params, 1)}.json"
    assert mres.record_key(params, 1) != mres.record_key(params, 2) != mres.record_key({**params, "n": 4}, 2)
    assert mres.record_status(path, params, 1) == (mres.MISSING, None)
    mres.save_record(path, params, 1, data, mres.record_provenance(0.5))
    status, record = mres.record_status(path, params, 1)
    assert status == mres.MATCHING and record["data"] == data and record["provenance"]["wall_time_s"] == 0.5
    assert mres.record_status(path, params, 2)[0] == mres.OTHER_VERSION
    assert mres.record_status(path, {**params, "n": 4}, 1)[0] == mres.OTHER_PARAMETERS
    (tmp_path / "foreign.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not an mtlib record"):
        mres.record_status(tmp_path / "foreign.json", params, 1)
    # compute_or_load: computes once, then loads; another version or retrain computes again
    calls = []
    compute = lambda: calls.append(1) or {"v": len(calls)}
    assert compute_or_load(tmp_path, "c", params, 1, compute) == ({"v": 1}, False)
    assert compute_or_load(tmp_path, "c", params, 1, compute) == ({"v": 1}, True)
    assert compute_or_load(tmp_path, "c", params, 2, compute) == ({"v": 2}, False)
    assert compute_or_load(tmp_path, "c", params, 1, compute, retrain=True) == ({"v": 3}, False)
    assert compute_or_load(None, "c", params, 1, compute) == ({"v": 4}, False)
    assert len(list(tmp_path.glob("c-*.json"))) == 2


def test_fit_all_through_files_equals_fit_all_and_refits_a_missing_frozen_teacher(tmp_path):
    plain = toy.fit_all([0], panels=("a", "c", "e"), **FAST)
    saved = toy.fit_all([0], panels=("a", "c", "e"), results_dir=tmp_path, **FAST)
    for p in ("a", "c", "e"):
        _same(plain[0][p], saved[0][p])
    # (a) on file, (c) missing: (c) refits (a) itself and gets the same frozen teacher
    next(tmp_path.glob("toy-c-*.json")).unlink()
    again = toy.fit_all([0], panels=("a", "c"), results_dir=tmp_path, **FAST)
    assert again[0]["a"].model is None
    _same(plain[0]["c"], again[0]["c"])


def test_sweep_through_files(tmp_path):
    fits = toy.sweep("ema_decay", [0.0, 0.5], seed=0, results_dir=tmp_path, **FAST)
    assert [r.ema_decay for r in fits] == [0.0, 0.5] and len(list(tmp_path.glob("toy-e-seed0-*.json"))) == 2
    loaded = toy.sweep("ema_decay", [0.0, 0.5], seed=0, results_dir=tmp_path, **FAST)
    for a, b in zip(fits, loaded):
        _same(a, b)
