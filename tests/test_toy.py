"""mtlib.book.toy: the Figure 1 toy problem (data, the five panels, the chapter's claim on one seed)."""
import pytest
import torch

from mtlib.book import toy
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
    if panel in "cde":
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


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"panel='f'.*'a', 'b', 'c', 'd', 'e'"):
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
    assert set(r) == {"c", "e"}
    assert r["e"].test_error < r["c"].test_error
    assert r["e"].boundary > r["c"].boundary
    assert r["e"].target_error < r["c"].target_error


def test_plot_figure1_draws_five_panels():
    import matplotlib
    matplotlib.use("Agg")
    results = toy.fit_all([0], **FAST)[0]
    fig = toy.plot_figure1(results)
    assert [a.get_title()[:3] for a in fig.axes] == ["(a)", "(b)", "(c)", "(d)", "(e)"]
    assert toy.figure_png(fig)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="results"):
        toy.plot_figure1([results["a"]])
