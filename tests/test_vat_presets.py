"""The CPU-scale VAT presets: cpu-vat-validation (each arm's epsilon on validation error) and cpu-vat
(the paired comparisons, refusing until the epsilons are chosen), and the chapter's configs are theirs."""
import pytest

from mtlib.book import vat_claims, vat_study
from mtlib.config import RunConfig
from mtlib.reproduce.presets import get_preset
from mtlib.scales import CPU_GRIDS, CPU_SCALE, NotChosenYet

CHOSEN = {"vat_epsilon": {"vat": 2.7, "mean_teacher_vat/student": 1.35, "mean_teacher_vat/teacher": 5.4},
          "supervised_dropout": 0.5}


def test_the_epsilon_grid_brackets_vat_tfs_relative_size_and_xi_is_fixed():
    eps = CPU_GRIDS["vat_epsilons"]
    assert len(eps) == 3 == len(CPU_GRIDS["validation_weights"])       # the same grid size as the weights
    assert eps[0] * 2 == eps[1] == eps[2] / 2 == 2.7                   # 0.5x, 1x, 2x of 8 x 18.7 / 55.4
    assert CPU_GRIDS["vat_xi"] == 1e-3 and set(CPU_GRIDS["vat_epsilon"]) == set(vat_study.ARMS)
    assert set(CPU_GRIDS["vat_epsilon"].values()) <= set(eps)             # chosen from the grid


def test_validation_preset_runs_every_arm_at_every_epsilon_on_seeds_0_to_3():
    runs = list(get_preset("cpu-vat-validation").runs())
    assert len(runs) == 3 * 3 * 4 == 36
    cells = {(vat_study.arm_of(r.config), r.config["vat_epsilon"], r.config["seed"]) for r in runs}
    assert cells == {(a, e, s) for a in vat_study.ARMS for e in CPU_GRIDS["vat_epsilons"] for s in range(4)}
    for r in runs:
        c = r.config
        assert (c["n_labels"], c["n_val"], c["steps"], c["vat_xi"], c["vat_power_iterations"]) == (100, 1000, 3000, 1e-3, 1)
        assert c["vat_weight"] == 1.0 and c["vat_entmin_weight"] == 0.0
        # each arm's reported model: VAT's network itself (as vat_tf evaluates it), the combinations' EMA
        assert r.metric == ("student_val_error" if c["method"] == "vat" else "ema_val_error")
        if c["method"] == "mean_teacher_vat":
            assert c["consistency_weight"] == CPU_GRIDS["method_weights"]["mean_teacher"]
        expected = {k: v for k, v in CPU_SCALE.items() if k != "consistency_weight"}
        assert {k: c[k] for k in expected} == {k: RunConfig(**CPU_SCALE).to_dict()[k] for k in expected}


def test_comparison_preset_refuses_naming_the_values_it_waits_for(monkeypatch):
    monkeypatch.setitem(CPU_GRIDS, "vat_epsilon", None)
    preset = get_preset("cpu-vat")
    with pytest.raises(NotChosenYet, match=r'CPU_GRIDS\["vat_epsilon"\].*cpu-vat-validation'):
        list(preset.runs())
    assert "vat_epsilon" in preset.waiting_for()


def test_comparison_preset_once_chosen(monkeypatch):
    for k, v in CHOSEN.items():
        monkeypatch.setitem(CPU_GRIDS, k, v)
    runs = list(get_preset("cpu-vat").runs())
    assert len(runs) == 5 * 8
    by_arm = {}
    for r in runs:
        by_arm.setdefault(vat_study.arm_of(r.config), []).append(r.config)
    assert sorted(by_arm) == sorted(list(vat_study.ARMS) + ["mean_teacher", "supervised"])
    for arm, configs in by_arm.items():
        assert sorted(c["seed"] for c in configs) == list(range(100, 108))      # the claims' seeds
        assert all(c["steps"] == 3000 and c["n_val"] == 0 for c in configs)
        if arm in vat_study.ARMS:
            assert {c["vat_epsilon"] for c in configs} == {CHOSEN["vat_epsilon"][arm]}
    assert {c["consistency_weight"] for c in by_arm["mean_teacher"]} == {CPU_GRIDS["method_weights"]["mean_teacher"]}
    assert {c["dropout"] for c in by_arm["supervised"]} == {0.5}


def test_long_comparison_preset_runs_every_arm_at_9000_steps_with_the_long_values(monkeypatch):
    """At 9,000 steps: the same ε (validated once, at 3,000 steps), Mean Teacher's weight and EMA as
    validated for that length (the paper's schedule) in both Mean Teacher arms and in Mean Teacher itself,
    supervised-only at its long dropout; the VAT arm keeps the trainer's default EMA, as supervised-only."""
    from mtlib.scales import LONG, PAPER_EMA
    for k, v in CHOSEN.items():
        monkeypatch.setitem(CPU_GRIDS, k, v)
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout_long", 0.75)
    runs = list(get_preset("cpu-vat-long").runs())
    assert len(runs) == 3 * 8      # (b) and the two baselines: the budget's cut (vat_study.ARMS_AT)
    by_arm = {}
    for r in runs:
        by_arm.setdefault(vat_study.arm_of(r.config), []).append(r.config)
    long_weight = CPU_GRIDS["method_weights_long"]["mean_teacher"]
    for arm, configs in by_arm.items():
        assert all({k: c[k] for k in LONG} == LONG for c in configs)
        if arm in vat_study.ARMS:
            assert {c["vat_epsilon"] for c in configs} == {CHOSEN["vat_epsilon"][arm]}
        if arm in ("mean_teacher", "mean_teacher_vat/student", "mean_teacher_vat/teacher"):
            assert all({k: c[k] for k in PAPER_EMA} == PAPER_EMA and c["consistency_weight"] == long_weight
                       for c in configs), arm
    assert set(by_arm) == {"mean_teacher_vat/teacher", "mean_teacher", "supervised"}
    assert {c["dropout"] for c in by_arm["supervised"]} == {0.75}
    short = {vat_study.arm_of(r.config): r.config for r in get_preset("cpu-vat").runs(seeds=[100])}
    assert short["mean_teacher_vat/teacher"]["steps"] == 3000
    assert short["mean_teacher_vat/teacher"]["consistency_weight"] == CPU_GRIDS["method_weights"]["mean_teacher"]


def test_the_chapters_configs_are_the_presets(monkeypatch):
    base = RunConfig(**CPU_SCALE)
    chapter = vat_study.validation_configs(base, CPU_GRIDS["validation_seeds"], CPU_GRIDS["vat_epsilons"],
                                           CPU_GRIDS["validation_n_val"])
    preset = [RunConfig.from_dict(r.config) for r in get_preset("cpu-vat-validation").runs()]
    assert sorted(c.to_dict().__repr__() for c in chapter) == sorted(c.to_dict().__repr__() for c in preset)
    for k, v in CHOSEN.items():
        monkeypatch.setitem(CPU_GRIDS, k, v)
    chapter = vat_study.comparison_configs(base, vat_claims.SEEDS, vat_study.book_epsilons())
    preset = [RunConfig.from_dict(r.config) for r in get_preset("cpu-vat").runs()]
    assert sorted(map(repr, chapter)) == sorted(map(repr, preset))


def test_target_comparisons_pair_each_arm_with_mean_teacher_by_hand():
    from types import SimpleNamespace as Run
    from mtlib.book import vat_study

    def run(method, seed, target, student, target_arm=None, logged=True):
        config = {"method": method, "seed": seed, "vat_target": target_arm or "student"}
        row = {"step": 10, **({"train_target_accuracy": target, "train_student_accuracy": student} if logged else {})}
        return Run(config=config, history=[row], final={})

    runs = [run("mean_teacher", s, 80.0 + s, 78.0) for s in (0, 1, 2)]
    runs += [run("mean_teacher_vat", s, 82.0 + s, 70.0 + s, "teacher") for s in (0, 1, 2)]   # (b)
    runs += [run("vat", s, 0, 0, logged=False) for s in (0, 1, 2)]                           # not logged: left out
    got = vat_study.target_comparisons(runs)
    assert [(c.a, c.b) for c in got] == [("Mean Teacher + VAT (b): target", "Mean Teacher's target"),
                                         ("Mean Teacher + VAT (b): student", "Mean Teacher's student")]
    target, student = got
    # errors are 100 - accuracy: (b)'s target 2 points more accurate, its student 8 - s points less
    assert target.mean == pytest.approx(-2.0) and target.n == 3 and target.high == pytest.approx(-2.0)
    assert student.mean == pytest.approx(7.0) and student.low > 0
    assert vat_study.target_comparisons(runs[3:]) == []          # no Mean Teacher runs: nothing to pair


@pytest.mark.parametrize("name, length", [("cpu-vat", "3000 steps"), ("cpu-vat-long", "9000 steps")])
def test_the_baselines_are_the_confirmatory_runs_already_made(monkeypatch, name, length):
    """cpu-vat's and cpu-vat-long's Mean Teacher and supervised-only are cpu-confirm's runs at that length
    (same identity, so the same results files): the arms they share cost nothing twice."""
    from mtlib.results import run_key
    confirm = {run_key(r.config) for r in get_preset("cpu-confirm").runs()}
    monkeypatch.setitem(CPU_GRIDS, "vat_epsilon", CHOSEN["vat_epsilon"])
    vat = {}
    for r in get_preset(name).runs():
        vat.setdefault(vat_study.arm_of(r.config), set()).add(run_key(r.config))
    assert len(vat["mean_teacher"]) == len(vat["supervised"]) == 8
    assert vat["mean_teacher"] <= confirm and vat["supervised"] <= confirm
    for arm in vat_study.ARMS_AT[length]:
        assert len(vat[arm]) == 8 and not vat[arm] & confirm


@pytest.mark.parametrize("name", ["cpu-vat-validation", "cpu-vat", "cpu-vat-long"])
def test_the_vat_presets_write_to_the_cpu_results(name):
    """Their results files belong with the CPU scale's (book/results/cpu), where the chapter reads them."""
    assert get_preset(name).scale == "cpu"
