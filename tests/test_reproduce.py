"""python -m mtlib.reproduce: presets, a tiny table filled end to end, skip, resume, shards, bad input."""
import io
import json
import os
import sys
from pathlib import Path

import pytest
import torch

import mtlib
from mtlib.config import RunConfig
from mtlib.reproduce import cli as reproduce
from mtlib.reproduce.presets import PRESETS, get_preset
from mtlib.results import load_result
from mtlib.training.trainer import Trainer

# tiny: SMOKE (6 steps, batch 20 with 10 labeled, 40 labels) on 200 CIFAR-10 images at 16x16, width 1/16
TINY = ["--preset-placeholder", "--labels", "1000", "--methods", "mean_teacher", "--seeds", "0", "1",
        "--override", "image_size=16", "max_train=200", "width=0.0625", "threads=1", "max_test=100"]


def cli(*argv):
    """Run the CLI in-process; return (exit code, stdout)."""
    out = io.StringIO()
    rc = reproduce.main([str(a) for a in argv], out=out)
    return rc, out.getvalue()


def tiny(command, folder, *extra):
    args = [command, "table2-cifar10-smoke"] + TINY[1:] + ["--results", folder]
    if command == "run":
        args += ["--checkpoint-every", "2"]
    return cli(*args, *extra)


def table_body(text):
    return [line for line in text.splitlines() if not line.startswith("results:")]


def finals(folder):
    return {p.name: (load_result(p).final, load_result(p).history) for p in sorted(Path(folder).glob("*.json"))}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A tiny table filled once for the module (needs $MTLIB_DATA)."""
    root = os.environ.get("MTLIB_DATA")
    if not root or not ((Path(root) / "cifar10-jpeg.tar.gz").is_file() or (Path(root) / "cifar10-jpeg").is_dir()):
        pytest.skip("MTLIB_DATA is unset or holds no cifar10-jpeg: set it to run the end-to-end tests")
    folder = tmp_path_factory.mktemp("full")
    rc, out = tiny("run", folder)
    assert rc == 0, out
    return folder, out


# ------------------------------------------------------------------------------------ presets
def test_presets_follow_paper_settings():
    t1 = {r.name: r for r in get_preset("table1-svhn").runs(seeds=[0])}
    mt = t1["table1-svhn/mean_teacher-250labels-seed0"].config
    assert (mt["normalization"], mt["flip"], mt["translate"], mt["labeled_per_batch"], mt["batch_size"]) == \
        ("per_image", False, 2, 1, 100)
    assert (mt["consistency_weight"], mt["consistency_on"], mt["ema_schedule"]) == (1.0, "unlabeled", "rampup_switch")
    assert (mt["steps"], mt["rampup_steps"], mt["rampdown_steps"]) == (180_000, 40_000, 25_000)
    t2 = get_preset("table2-cifar10")
    c = next(iter(t2.runs(seeds=[0], labels=[4000], methods=["mean_teacher"]))).config
    assert (c["consistency_weight"], c["labeled_per_batch"], c["normalization"], c["flip"], c["ema_decay"]) == \
        (8.0, None, "zca", True, 0.999)
    assert len(list(t2.runs(labels=[50000], methods=["pi"]))) == 4      # 4 seeds with all labels
    assert len(list(t2.runs(labels=[1000], methods=["pi"]))) == 10
    r4 = next(iter(get_preset("table4-resnet").runs(seeds=[0])))
    assert (r4.config["arch"], r4.config["batch_size"], r4.config["labeled_per_batch"], r4.paper) == \
        ("resnet26_shakeshake", 512, 124, (6.28, 0.15))
    f4 = next(iter(get_preset("fig4-ema_decay").runs(seeds=[0])))
    assert (f4.config["n_val"], f4.config["n_labels"]) == (7325, 250)
    smoke = next(iter(get_preset("table1-svhn-smoke").runs(seeds=[0])))
    assert smoke.config["dataset"] == "cifar10" and smoke.config["steps"] == 6 and smoke.notebook.endswith(".ipynb")
    # every preset lists runs, except those waiting for a value validation has not chosen yet
    assert all(len(list(p.runs(seeds=[0]))) for p in PRESETS.values() if not p.waiting_for())


def test_validation_preset_reports_validation_error_of_each_reported_model():
    """cpu-validation prints and tabulates what the choice reads (validation error), never test error."""
    runs = {(r.config["method"], r.config["consistency_weight"]): r for r in get_preset("cpu-validation").runs(seeds=[0])}
    assert set(runs) == {(m, w) for m in ("pi", "temporal_ensembling", "mean_teacher") for w in (1.0, 3.0, 10.0)}
    assert {r.config["n_val"] for r in runs.values()} == {1000}
    assert runs["pi", 3.0].metric == runs["mean_teacher", 3.0].metric == "ema_val_error"
    assert runs["temporal_ensembling", 3.0].metric == "student_val_error"       # TE reports its raw network
    assert next(iter(get_preset("cpu-tables").runs(seeds=[0], methods=["temporal_ensembling"]))).metric == \
        "student_test_error"


def test_resnet_config_builds_and_steps():
    """RunConfig.width/dropout do not reach the ResNet (the trainer passes only what the arch takes)."""
    from mtlib.data.batches import masked_labels
    from mtlib.data import SemiSupervisedData
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 3, 8, 8, generator=g), torch.arange(12) % 2
    data = SemiSupervisedData(train_x=x, train_labels=y, train_y_masked=masked_labels(y, [0, 1]),
                              labeled_idx=torch.tensor([0, 1]), unlabeled_idx=torch.arange(2, 12),
                              val_x=x[:0], val_y=y[:0], test_x=x[:4], test_y=y[:4], classes=["a", "b"],
                              num_classes=2)
    over = dict(n_labels=2, batch_size=4, labeled_per_batch=2, steps=1, eval_every=1, threads=1)
    run = next(iter(get_preset("table4-resnet").runs(seeds=[0], override=over)))
    result = Trainer(RunConfig.from_dict(run.config), data).run(progress=False)
    assert result.final["step"] == 1 and "ema_test_error" in result.final


def test_list_and_help(capsys):
    rc, out = cli("list")
    assert rc == 0 and "table1-svhn" in out and "table3-svhn-extra" in out and "fig3-svhn" in out
    # Table 3 with 100k / 500k extra images runs now (SVHN's extra split): 3 variants x 2 methods x 10 seeds
    assert "table3-svhn-extra                  60 runs" in out
    assert "cpu-validation-long                36 runs" in out and "cpu-validation-supervised          24 runs" in out
    # every value they need is chosen: 4 methods + Mean Teacher at 0.99; 2 lengths x (4 + decay 0) + the paper
    # schedule at 3,000 steps; 8 seeds each (the waiting "- runs" is tests/test_long_scale.py's)
    assert "cpu-tables-long                    40 runs" in out and "cpu-confirm                        88 runs" in out
    with pytest.raises(SystemExit) as e:
        reproduce.main(["--help"])
    assert e.value.code == 0 and "run" in capsys.readouterr().out


def test_list_counts_the_finished_runs_of_a_folder(tmp_path):
    """A run counts as done only with a matching results file (what `run` would skip): another version
    does not count, and a preset whose folder does not exist shows 0 done."""
    from mtlib.results import RESULTS_VERSION, RunResult, result_path
    runs = list(get_preset("cpu-ablations-supervised").runs())
    for r, version in zip(runs, (RESULTS_VERSION, RESULTS_VERSION, RESULTS_VERSION - 1)):
        RunResult(config=r.config, provenance={"results_version": version}).save(result_path(tmp_path, r.config))
    rc, out = cli("list", "--results", tmp_path)
    assert rc == 0
    assert "cpu-ablations-supervised            4 runs    2 done  " in out
    assert "cpu-tables                         64 runs    0 done  " in out
    rc, out = cli("list", "--results", tmp_path / "nowhere")
    assert rc == 0 and "cpu-ablations-supervised            4 runs    0 done  " in out


# ------------------------------------------------------------------------------- end to end
def test_run_fills_table_then_skips(filled):
    folder, out = filled
    files = sorted(folder.glob("*.json"))
    assert len(files) == 2 and "2 ran" in out
    rc, text = tiny("table", folder)
    assert rc == 0
    line = next(l for l in text.splitlines() if l.startswith("mean_teacher"))
    assert " 2/2 " in line and "±" in line and "21.55 ± 1.48" in line and ("yes" in line or "no" in line)
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    rc, out2 = tiny("run", folder)
    assert rc == 0 and out2.count("... skipped") == 2 and "2 skipped" in out2
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes
    assert not list((folder / "checkpoints").glob("*.ckpt"))        # removed once a run is saved


def test_interrupted_run_resumes_to_the_same_table(filled, tmp_path, monkeypatch):
    full, _ = filled
    calls = {"n": 0}
    step = Trainer.train_step

    def crash_after_five(self):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("simulated crash")
        return step(self)

    monkeypatch.setattr(Trainer, "train_step", crash_after_five)
    with pytest.raises(RuntimeError, match="simulated crash"):
        tiny("run", tmp_path)
    assert list((tmp_path / "checkpoints").glob("*.ckpt")) and not list(tmp_path.glob("*.json"))
    monkeypatch.setattr(Trainer, "train_step", step)
    rc, out = tiny("run", tmp_path)
    assert rc == 0 and "resumed" in out and "ran" in out
    assert finals(tmp_path) == finals(full)
    assert table_body(tiny("table", tmp_path)[1]) == table_body(tiny("table", full)[1])


def test_shards_together_equal_the_full_run(filled, tmp_path):
    full, _ = filled
    rc0, out0 = tiny("run", tmp_path, "--shard", "0/2")
    rc1, out1 = tiny("run", tmp_path, "--shard", "1/2")
    assert rc0 == rc1 == 0 and "1 ran" in out0 and "1 ran" in out1
    assert finals(tmp_path) == finals(full)


def test_papermill_path(filled, tmp_path):
    pytest.importorskip("papermill")
    import nbformat
    full, _ = filled
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("seeds = [0]\nlabel_counts = [1000]\nmethods = ['mean_teacher']\n"
                                       "results_scale = 'cpu'\nretrain = False\ncheck_claims = True")
    params.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "from mtlib.book.chapter import chapter_config\nfrom mtlib.runs import run_or_load, results_dir\n"
        "for seed in seeds:\n    for n_labels in label_counts:\n        for method in methods:\n"
        "            cfg = chapter_config(globals(), seed=seed, n_labels=n_labels, method=method)\n"
        "            run_or_load(cfg, results_dir(results_scale), retrain=retrain)")
    nb.cells = [params, body]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "nbs").mkdir()
    nbformat.write(nb, tmp_path / "nbs" / "results_tables.ipynb")
    rc, out = tiny("run", tmp_path / "res", "--via", "papermill", "--notebooks", tmp_path / "nbs", "--seeds", "0")
    assert rc == 0, out
    jsons = sorted((tmp_path / "res").glob("*.json"))
    assert len(jsons) == 1 and jsons[0].with_suffix(".ipynb").exists()
    assert load_result(jsons[0]).final == finals(full)[jsons[0].name][0]


# ------------------------------------------------------------------------------- bad input
def test_unknown_preset_and_missing_label_count(tmp_path, capsys):
    assert cli("run", "table9", "--results", tmp_path)[0] == 2
    assert "preset='table9' is unknown; choose one of: table1-svhn" in capsys.readouterr().err
    assert cli("run", "table2-cifar10", "--labels", "3000", "--results", tmp_path)[0] == 2
    assert "labels=[3000] not in preset 'table2-cifar10'; choose from [1000, 2000, 4000, 50000]" in capsys.readouterr().err
    assert cli("table", "table1-svhn", "--methods", "vat", "--results", tmp_path)[0] == 2
    assert "methods=['vat'] not in preset" in capsys.readouterr().err
    assert cli("run", "table2-cifar10", "--shard", "2/2", "--results", tmp_path)[0] == 2
    assert "--shard '2/2'" in capsys.readouterr().err
    assert cli("run", "table2-cifar10", "--override", "stepz=3", "--results", tmp_path)[0] == 2
    assert "--override stepz=... names no RunConfig parameter" in capsys.readouterr().err
    assert cli("run", "table2-cifar10-smoke", "--override", "dropout=2", "--results", tmp_path)[0] == 2
    assert "dropout=2 is outside [0, 1)" in capsys.readouterr().err


def test_svhn_extra_runs_use_the_extra_split(tmp_path):
    rc, out = cli("run", "table3-svhn-extra", "--seeds", "0", "--dry-run", "--results", tmp_path)
    assert rc == 0 and out.count("todo") == 6                      # 3 variants x 2 methods
    extra = {r.config["n_extra_unlabeled"]: r.config["steps"] for r in get_preset("table3-svhn-extra").runs(seeds=[0])}
    assert extra == {0: 180_000, 100_000: 400_000, 500_000: 600_000}
    fig3 = [(r.col, r.config["n_extra_unlabeled"]) for r in get_preset("fig3-svhn").runs(methods=["pi"])]
    assert fig3 == [(250, 0), (500, 0), (500, 500_000), (73257, 0)]


@pytest.mark.parametrize("content, message", [('{"hello": 1}', "not an mtlib results file"),
                                              ("{broken", "cannot be read as JSON")])
def test_foreign_or_malformed_results_file(tmp_path, capsys, content, message):
    bad = tmp_path / "notes.json"
    bad.write_text(content)
    rc, _ = cli("run", "table2-cifar10-smoke", "--labels", "1000", "--seeds", "0", "--results", tmp_path)
    err = capsys.readouterr().err
    assert rc == 2 and str(bad) in err and message in err and "left untouched" in err
    assert bad.read_text() == content and [p.name for p in tmp_path.iterdir()] == ["notes.json"]
    assert cli("table", "table2-cifar10-smoke", "--results", tmp_path)[0] == 2


def test_results_of_another_version_are_never_overwritten(tmp_path, capsys):
    run = next(iter(get_preset("table2-cifar10-smoke").runs(seeds=[0], labels=[1000], methods=["pi"])))
    path = reproduce.result_path(tmp_path, run.config)
    old = {"format": "mtlib-result/1", "config": run.config, "final": {"ema_test_error": 50.0},
           "provenance": {"mtlib_version": "0.0.1-old"}, "history": []}
    path.write_text(json.dumps(old))
    rc, _ = cli("run", "table2-cifar10-smoke", "--labels", "1000", "--seeds", "0", "--methods", "pi",
                "--results", tmp_path)
    err = capsys.readouterr().err
    assert rc == 2 and path.name in err and "0.0.1-old" in err and "never overwritten" in err
    assert json.loads(path.read_text()) == old


def test_results_folder_not_writable(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _ = cli("run", "table2-cifar10-smoke", "--seeds", "0", "--results", blocker / "sub")
    err = capsys.readouterr().err
    assert rc == 2 and "is not writable" in err and str(blocker / "sub") in err
    if os.geteuid() != 0:         # root writes anywhere: the chmod case only means something for users
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            assert cli("run", "table2-cifar10-smoke", "--seeds", "0", "--results", ro)[0] == 2
            assert "is not writable" in capsys.readouterr().err
        finally:
            ro.chmod(0o700)


def test_default_results_folder_follows_the_preset_scale(tmp_path, monkeypatch):
    """Without --results a cpu-* preset writes where the chapters read (results/cpu), a paper preset
    into results/paper; --results wins over both."""
    monkeypatch.setenv("MTLIB_RESULTS", str(tmp_path))
    parser = reproduce.build_parser()
    for preset, scale in [("cpu-tables", "cpu"), ("cpu-label-curve", "cpu"), ("cpu-validation-long", "cpu"),
                          ("table2-cifar10", "paper"), ("table2-cifar10-smoke", "paper")]:
        assert get_preset(preset).scale == scale
        _, folder = reproduce.select(parser.parse_args(["run", preset, "--seeds", "0"]))
        assert folder == tmp_path / scale, preset
    _, folder = reproduce.select(parser.parse_args(["run", "cpu-tables", "--seeds", "0", "--results", str(tmp_path / "x")]))
    assert folder == tmp_path / "x"


def test_the_mean_teacher_exercises_preset_runs_what_the_exercises_change_and_nothing_else():
    from mtlib.reproduce.presets import get_preset
    from mtlib.scales import CPU_GRIDS, CPU_SCALE

    runs = list(get_preset("cpu-mean-teacher-exercises").runs())
    assert len(runs) == 5 * 4 and {r.config["seed"] for r in runs} == set(CPU_GRIDS["ablation_seeds"])
    from mtlib.config import RunConfig
    base = RunConfig(**{**CPU_SCALE, "method": "mean_teacher"}).to_dict()
    changed = {tuple(sorted((k, v) for k, v in RunConfig(**r.config).to_dict().items() if v != base[k] and k != "seed"))
               for r in runs}
    assert changed == {(("consistency_weight", 100.0),), (("teacher_dropout", False),),
                       (("consistency_on", "all"),), (("consistency_on", "all"), ("consistency_weight", 30.0)),
                       (("consistency_on", "all"), ("consistency_weight", 100.0))}
    assert {r.config["method"] for r in runs} == {"mean_teacher"}
