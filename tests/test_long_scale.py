"""The long CPU scale and its presets: one definition, validation at both lengths with one rule,
refusal while a chosen value is None, and the committed presets' runs unchanged."""
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from mtlib.book import tables, validation
from mtlib.reproduce import cli
from mtlib.reproduce.presets import arms, get_preset
from mtlib.results import MATCHING, result_status, run_key
from mtlib.scales import (CPU_GRIDS, CPU_LONG_SCALE, CPU_SCALE, LENGTHS, LONG, PAPER_EMA, NotChosenYet, chosen,
                          chosen_knobs)
from mtlib.training.methods import reported_metric

REPO = Path(__file__).resolve().parent.parent
LONG_WEIGHTS = dict(pi=10.0, temporal_ensembling=3.0, mean_teacher=1.0)     # made up, for the tests only


def choose_all(monkeypatch, weights=LONG_WEIGHTS, dropout=0.25, dropout_long=0.75):
    monkeypatch.setitem(CPU_GRIDS, "method_weights_long", weights)
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout", dropout)
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout_long", dropout_long)


def knobs(config, *names):
    return tuple(config[n] for n in names)


def test_the_long_scale_is_written_once_and_the_ladder_reads_it():
    assert CPU_LONG_SCALE == {**CPU_SCALE, **LONG} and LONG == dict(steps=9000, rampup_steps=3000,
                                                                  rampdown_steps=1500, eval_every=750)
    assert LENGTHS == {"3000 steps": {}, "9000 steps": LONG}
    assert CPU_GRIDS["longer"] is LONG and dict(CPU_GRIDS["ladder_ema"])["paper schedule"] is PAPER_EMA
    assert CPU_GRIDS["mean_teacher_ema"] == {"3000 steps": {}, "9000 steps": PAPER_EMA}
    longer = list(get_preset("cpu-longer").runs(seeds=[0]))
    assert {knobs(r.config, *LONG) for r in longer} == {tuple(LONG.values())}
    paper = next(r for r in longer if r.row.endswith("paper schedule")).config
    assert knobs(paper, *PAPER_EMA) == tuple(PAPER_EMA.values())


def test_the_committed_cpu_presets_keep_their_run_identities():
    """Every run of the presets whose results are committed still finds its file (its identity and
    results version unchanged by the long scale's presets)."""
    folder = REPO / "book" / "results" / "cpu"
    for name in ("cpu-tables", "cpu-curves", "cpu-ablations", "cpu-validation", "cpu-ladder", "cpu-longer"):
        runs = list(get_preset(name).runs())
        missing = [r.name for r in runs if result_status(folder, r.config)[0] != MATCHING]
        assert not missing, f"{name}: {len(missing)} of {len(runs)} runs lost their file, e.g. {missing[:3]}"


def test_validation_at_the_long_scale_gives_every_method_the_same_grid_and_mean_teacher_the_paper_schedule():
    runs = list(get_preset("cpu-validation-long").runs())
    assert len(runs) == 3 * 3 * 4
    assert {(r.config["method"], r.config["consistency_weight"], r.config["seed"]) for r in runs} == {
        (m, w, s) for m in ("pi", "temporal_ensembling", "mean_teacher") for w in (1.0, 3.0, 10.0) for s in range(4)}
    assert {(r.config["n_val"], r.config["steps"], r.config["rampup_steps"]) for r in runs} == {(1000, 9000, 3000)}
    ema = {r.config["method"]: knobs(r.config, *PAPER_EMA) for r in runs}
    assert ema["mean_teacher"] == tuple(PAPER_EMA.values())
    assert ema["pi"] == ema["temporal_ensembling"] == ("constant", 0.99, 0.99)     # the CPU scale's EMA
    metrics = {r.config["method"]: r.metric for r in runs}
    assert metrics == {"pi": "ema_val_error", "mean_teacher": "ema_val_error", "temporal_ensembling": "student_val_error"}


def test_supervised_tuning_has_the_same_budget_on_dropout_at_both_lengths():
    runs = list(get_preset("cpu-validation-supervised").runs())
    assert len(runs) == 2 * 3 * 4 and {r.config["method"] for r in runs} == {"supervised"}
    assert {(r.config["steps"], r.config["dropout"]) for r in runs} == {
        (steps, d) for steps in (3000, 9000) for d in CPU_GRIDS["validation_dropouts"]}
    assert len(CPU_GRIDS["validation_dropouts"]) == len(CPU_GRIDS["validation_weights"]) and 0.5 in CPU_GRIDS["validation_dropouts"]
    assert {r.config["n_val"] for r in runs} == {1000} and {r.config["seed"] for r in runs} == {0, 1, 2, 3}


def test_presets_refuse_while_a_chosen_value_is_none_naming_the_entry(tmp_path, capsys, monkeypatch):
    for entry in ("method_weights_long", "supervised_dropout", "supervised_dropout_long"):   # before validation
        monkeypatch.setitem(CPU_GRIDS, entry, None)
    with pytest.raises(NotChosenYet, match=r'CPU_GRIDS\["method_weights_long"\].*cpu-validation-long'):
        chosen("method_weights_long")
    with pytest.raises(NotChosenYet, match='supervised_dropout'):
        chosen_knobs("supervised", "3000 steps")
    assert chosen_knobs("pi", "3000 steps") == {"consistency_weight": CPU_GRIDS["method_weights"]["pi"]}
    with pytest.raises(ValueError, match="entry='seeds' is not a chosen value"):
        chosen("seeds")
    with pytest.raises(NotChosenYet) as e:
        list(get_preset("cpu-tables-long").runs())
    assert e.value.entries == ["supervised_dropout_long", "method_weights_long"]
    assert "preset 'cpu-tables-long' needs" in str(e.value) and "which are None (not chosen yet)" in str(e.value)
    assert e.value.reader_message == ("not run yet: these runs wait for values not chosen yet (supervised_dropout_long, "
                                      "method_weights_long), which validation runs choose (`python -m mtlib.reproduce "
                                      "run cpu-validation-supervised`; `python -m mtlib.reproduce run cpu-validation-long`)")
    assert get_preset("cpu-confirm").waiting_for() == ["supervised_dropout", "supervised_dropout_long",
                                                      "method_weights_long"]
    # a selection that needs only chosen values runs: cpu-confirm's Π model at 3,000 steps
    assert len(list(get_preset("cpu-confirm").runs(methods=["pi"], variants=["3000 steps"]))) == 8
    rc = cli.main(["run", "cpu-tables-long", "--dry-run", "--results", str(tmp_path)], out=io.StringIO())
    assert rc == 2 and 'CPU_GRIDS["method_weights_long"]' in capsys.readouterr().err
    out = io.StringIO()
    assert cli.main(["list"], out=out) == 0
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
    assert "waits for CPU_GRIDS: supervised_dropout_long, method_weights_long" in lines["cpu-tables-long"]
    assert " 36 runs" in lines["cpu-validation-long"] and " 24 runs" in lines["cpu-validation-supervised"]
    for name, n in (("cpu-validation-long", 36), ("cpu-validation-supervised", 24)):
        out = io.StringIO()
        assert cli.main(["run", name, "--dry-run", "--results", str(tmp_path)], out=out) == 0
        assert out.getvalue().count("todo") == n


def test_once_chosen_the_headline_and_confirmation_use_each_lengths_values(monkeypatch):
    choose_all(monkeypatch)
    long = list(get_preset("cpu-tables-long").runs())
    assert len(long) == 5 * 8 and {r.config["seed"] for r in long} == set(range(8))
    by_row = {r.row: r for r in long if r.config["seed"] == 0}
    assert set(by_row) == {"supervised | 9000 steps", "pi | 9000 steps", "temporal_ensembling | 9000 steps",
                           "mean_teacher | 9000 steps", "mean_teacher | 9000 steps, decay 0.99"}
    assert by_row["supervised | 9000 steps"].config["dropout"] == 0.75
    assert by_row["pi | 9000 steps"].config["consistency_weight"] == 10.0
    assert by_row["temporal_ensembling | 9000 steps"].metric == "student_test_error"
    mt, mt99 = by_row["mean_teacher | 9000 steps"].config, by_row["mean_teacher | 9000 steps, decay 0.99"].config
    assert knobs(mt, *PAPER_EMA) == tuple(PAPER_EMA.values()) and mt["consistency_weight"] == 1.0
    assert (mt99["ema_schedule"], mt99["ema_decay"], mt99["consistency_weight"]) == ("constant", 0.99, 1.0)
    confirm = get_preset("cpu-confirm")
    runs = list(confirm.runs())
    assert len(runs) == (6 + 5) * 8 and {r.config["seed"] for r in runs} == set(range(100, 108))
    groups = arms(confirm)
    assert sorted(groups) == sorted([("3000 steps", a) for a in ("supervised", "pi", "temporal_ensembling", "mean_teacher",
                                                                 "mean_teacher, decay 0", "mean_teacher, paper schedule")]
                                    + [("9000 steps", a) for a in ("supervised", "pi", "temporal_ensembling",
                                                                   "mean_teacher", "mean_teacher, decay 0")])
    first = {key: rs[0].config for key, rs in groups.items()}
    assert first["3000 steps", "supervised"]["dropout"] == 0.25 and first["9000 steps", "supervised"]["dropout"] == 0.75
    assert first["9000 steps", "mean_teacher, decay 0"]["consistency_weight"] == 1.0
    assert first["3000 steps", "mean_teacher, decay 0"]["consistency_weight"] == CPU_GRIDS["method_weights"]["mean_teacher"]
    # at 3,000 steps the confirmation repeats committed runs' settings on new seeds: the same identity at seed 0
    same = {run_key(r.config) for r in confirm.runs(seeds=[0]) if r.config["steps"] == 3000 and r.config["method"] != "supervised"}
    committed = {run_key(r.config) for name in ("cpu-tables", "cpu-ladder") for r in get_preset(name).runs(seeds=[0])}
    assert same <= committed and len(same) == 5


def test_choose_supervised_by_hand_one_choice_per_length():
    def run(steps, dropout, seed, val, method="supervised"):
        return SimpleNamespace(config=dict(method=method, steps=steps, dropout=dropout, seed=seed, n_val=1000,
                                           consistency_weight=3.0), final={"ema_val_error": val, "student_val_error": 99.0})

    runs = []
    for seed in (0, 1):
        # 3000 steps: means 31 / 30.5 / 30.5 -> the tie goes to the smaller dropout, 0.5
        runs += [run(3000, 0.25, seed, 31.0), run(3000, 0.5, seed, 30.0 + seed), run(3000, 0.75, seed, 30.5)]
        # 9000 steps: means 29.5 / 28 / 30 -> 0.5; the student's error (99) is never read
        runs += [run(9000, 0.25, seed, 29.0 + seed), run(9000, 0.5, seed, 28.0), run(9000, 0.75, seed, 30.0)]
    assert validation.choose_supervised(runs) == {"3000 steps": 0.5, "9000 steps": 0.5}
    runs[-1] = run(9000, 0.75, 1, 20.0)       # 9000 steps: 0.75 now has mean 25
    assert validation.choose_supervised(runs)["9000 steps"] == 0.75
    table = validation.validation_table(runs, knob="dropout")
    assert table.loc["Supervised-only, 9000 steps", "dropout 0.75"].endswith("*")
    assert table.loc["Supervised-only, 3000 steps", "dropout 0.25"] == "31.00 ± 0.00"
    ax = validation.plot_validation(runs, knob="dropout")       # one curve per length, each its own ring
    assert [t.get_text() for t in ax.get_legend().texts] == ["Supervised-only, 3000 steps", "Supervised-only, 9000 steps"]
    with pytest.raises(ValueError, match="steps=\\[3000, 9000\\]; choose at one length at a time"):
        validation.choose(runs, "dropout")
    with pytest.raises(ValueError, match="supervised-only runs; got methods \\['pi'\\]"):
        validation.choose_supervised(runs + [run(3000, 0.5, 0, 1.0, method="pi")])
    with pytest.raises(ValueError, match="different seeds"):
        validation.choose_supervised(runs + [run(3000, 0.9, 0, 1.0)])


def test_temporal_ensembling_is_chosen_and_tabulated_on_the_same_model():
    """One rule for every method: TE's weight is read from its raw network's validation error, and a
    table of TE reports its raw network too (summarize(metric=None), the presets' metric, the claims)."""
    def run(weight, seed, ema, raw):
        return SimpleNamespace(config=dict(dataset="cifar10", method="temporal_ensembling", n_labels=100, seed=seed,
                                           n_val=1000, consistency_weight=weight),
                               final={"ema_val_error": ema, "student_val_error": raw,
                                      "ema_test_error": ema, "student_test_error": raw})

    runs = [run(1.0, s, 20.0, 31.0) for s in (0, 1)] + [run(3.0, s, 25.0, 30.0) for s in (0, 1)]
    assert validation.choose_weights(runs) == {"temporal_ensembling": 3.0}          # raw 30 < 31 (EMA says 1)
    rows = tables.summarize([r for r in runs if r.config["consistency_weight"] == 3.0], metric=None)
    assert rows[0]["mean"] == 30.0                                                  # the raw network, as chosen
    assert tables.summarize(runs[:2], metric="ema_test_error")[0]["mean"] == 20.0   # asked for explicitly
    assert reported_metric("temporal_ensembling") == "student_test_error"
    assert validation.reported_metric("temporal_ensembling") == "student_val_error"
    with pytest.raises(ValueError, match="method='fixmatch' is unknown"):
        reported_metric("fixmatch")
    for name in ("cpu-tables", "cpu-validation", "cpu-validation-long"):
        te = {r.metric for r in get_preset(name).runs(methods=["temporal_ensembling"])}
        assert te == {"student_val_error" if "validation" in name else "student_test_error"}, name


def test_the_label_curve_runs_the_counts_cpu_tables_does_not_each_method_at_its_validated_weight():
    curve = list(get_preset("cpu-label-curve").runs())
    counts = sorted({r.col for r in curve})
    assert counts == [50, 200, 1000, 8000] and not set(counts) & set(CPU_GRIDS["label_counts"])
    assert {r.config["seed"] for r in curve} == {0, 1, 2, 3} and len(curve) == 4 * 4 * 4
    for r in curve:
        c = r.config
        assert c["n_labels"] == r.col and c["steps"] == CPU_SCALE["steps"] and c["precision"] == "fp32"
        if c["method"] != "supervised":
            assert c["consistency_weight"] == CPU_GRIDS["method_weights"][c["method"]]
        all_labeled = r.col == CPU_SCALE["max_train"]
        assert (c["labeled_per_batch"], c["consistency_on"]) == ((None, "all") if all_labeled else
                                                                  (CPU_SCALE["labeled_per_batch"], "unlabeled"))
    # Mean Teacher's all-labeled runs are cpu-curves' own (its validated weight is the CPU scale's 3)
    mt = {run_key(r.config) for r in curve if r.col == 8000 and r.config["method"] == "mean_teacher"}
    curves = {run_key(r.config) for r in get_preset("cpu-curves").runs(methods=["mean_teacher"], seeds=[0, 1, 2, 3])}
    assert mt == curves


def test_supervised_only_at_the_collapse_point_differs_from_its_headline_run_only_there():
    base = {r.config["seed"]: r.config for r in get_preset("cpu-tables").runs(methods=["supervised"], labels=[100])}
    runs = list(get_preset("cpu-ablations-supervised").runs())
    assert [r.config["seed"] for r in runs] == CPU_GRIDS["ablation_seeds"]
    for r in runs:
        diff = {k: v for k, v in r.config.items() if v != base[r.config["seed"]][k]}
        assert diff == dict(translate=0, flip=False, dropout=0.0)


def test_the_results_chapter_asks_for_exactly_the_label_curve_presets_runs():
    from mtlib.book.chapter import chapter_config, label_curve_configs
    base = chapter_config({}, method="supervised", seed=0)
    configs = label_curve_configs(base, CPU_GRIDS["label_curve_counts"], CPU_GRIDS["label_curve_seeds"],
                                  CPU_GRIDS["methods"], CPU_GRIDS["method_weights"])
    assert sorted(run_key(c.to_dict()) for c in configs) == \
        sorted(run_key(r.config) for r in get_preset("cpu-label-curve").runs())
    # fewer labels than the subset keep the CPU scale's batches; the subset's size is "all labels"
    small = label_curve_configs(base.replace(max_train=300), [20, 300], [0], ["pi"], {"pi": 1.0})
    assert [(c.n_labels, c.labeled_per_batch, c.consistency_on, c.consistency_weight) for c in small] == \
        [(20, CPU_SCALE["labeled_per_batch"], "unlabeled", 1.0), (300, None, "all", 1.0)]
