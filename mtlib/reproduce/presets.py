"""The paper's experiments at paper scale as named presets (run with ``python -m mtlib.reproduce``).

Settings follow the authors' public code (CuriousAI/mean-teacher: tensorflow/experiments/*.py for the
ConvNet, pytorch/experiments/cifar10_test.py for the ResNet; smlaine2/tempens for Temporal Ensembling);
each setting's source, file and line, and every known difference are on the book's Settings and
their sources page, book/settings.md. Where that code and the paper's text disagree, the code wins
and a comment says so.

Loss conventions, as in each source (mtlib's defaults are the TF code's): the classification cost
is the sum of cross-entropy over the labeled images divided by the whole batch in all three codebases
(TF ConvNet code, PyTorch ResNet code, Laine & Aila's Theano code for Pi / TE); the consistency cost
is a masked mean over the whole batch; the logit distance of the dual output (Fig. 4e) is summed
over classes in the TF code and averaged over classes in the PyTorch ResNet code (Table 4).
Stated, not reproduced: the TF code draws SVHN's 99 "unlabeled" slots from the whole training set
with labels stripped, mtlib from the unlabeled images only (at 250-1000 labels of 73,257 images,
at most 1.4 % of those slots would hold a labeled image).
"""
from dataclasses import dataclass
from typing import Callable, Optional

from mtlib.book import paper as _paper
from mtlib.book import vat_claims as _vat_claims
from mtlib.book import vat_study as _vat_study
from mtlib.book.ablations import COLLAPSE, COLLAPSE_NAME, figure4_points
from mtlib.config import RunConfig
from mtlib.results import matching_results
from mtlib.book.claims import CONFIRM_SEEDS
from mtlib.scales import (ALL_LABELED, CPU_GRIDS, CPU_SCALE, LENGTH_LONG, LENGTH_SHORT, LENGTHS, SMOKE, NotChosenYet,
                          chosen_knobs)
from mtlib.training.methods import METHOD_CLASSES

SVHN_TRAIN, CIFAR10_TRAIN = 73257, 50000


@dataclass(frozen=True)
class PresetRun:
    """One run of a preset.

    ``row``/``col``: its table cell (row: method plus the preset's variant, col: label count);
    ``paper``: the paper's (mean, std) for the cell;
    ``metric``: the final metric its cell reports.
    """
    name: str
    config: dict
    notebook: str
    row: str
    col: int
    paper: Optional[tuple] = None
    metric: str = "ema_test_error"


@dataclass(frozen=True)
class Preset:
    """A paper experiment: label counts x methods x variants x seeds -> configs.

    ``build(method, n_labels, variant_value) -> dict`` gives the RunConfig values of a run (seed
    added later; it raises ``NotChosenYet`` for a run that needs a value validation has not chosen
    yet); ``variants``: (label, value) pairs of a swept knob, or one ("", None) pair;
    ``default_seeds``: the seeds when none are asked for (None: 0 .. n_seeds(n) - 1);
    ``scale``: the results folder its runs go to by default (``mtlib.runs.results_dir(scale)``).
    """
    name: str
    title: str
    notebook: str
    label_counts: tuple
    methods: tuple
    build: Callable
    n_seeds: Callable                       # n_labels -> how many seeds the paper ran
    variants: tuple = (("", None),)
    metric: str = "ema_test_error"
    paper: Callable = lambda method, n_labels, variant: None
    include: Callable = lambda method, n_labels, variant_name: True   # which combinations exist
    smoke: bool = False
    default_seeds: Optional[tuple] = None
    scale: str = "paper"

    def runs(self, seeds=None, labels=None, methods=None, variants=None, override=None):
        """The runs of the selection (None: all), in a fixed order (labels, seed, variant, method).
        NotChosenYet, naming every missing CPU_GRIDS entry, when a selected run needs one."""
        labels = self._pick("labels", labels, self.label_counts)
        methods = self._pick("methods", methods, self.methods)
        variant_names = self._pick("variants", variants, tuple(v for v, _ in self.variants))
        if seeds is not None:
            bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
            if bad:
                raise ValueError(f"seeds={bad} are not allowed; seeds are integers >= 0")
        planned, missing = [], []
        for n in labels:
            for seed in (seeds if seeds is not None else self.seeds(n)):
                for vname, value in self.variants:
                    if vname not in variant_names:
                        continue
                    for method in methods:
                        if self.include(method, n, vname):
                            try:
                                planned.append(self._run(method, n, vname, value, seed, override or {}))
                            except NotChosenYet as e:
                                missing += e.entries
        if missing:       # refuse the whole selection, naming every value it waits for
            raise NotChosenYet(missing, needed_by=f"preset {self.name!r}")
        yield from planned

    def seeds(self, n_labels):
        """The seeds run at ``n_labels`` when none are asked for."""
        return tuple(self.default_seeds) if self.default_seeds is not None else tuple(range(self.n_seeds(n_labels)))

    def waiting_for(self):
        """The CPU_GRIDS entries, not chosen yet, that some run of this preset needs ([] for none)."""
        try:
            list(self.runs())
        except NotChosenYet as e:
            return e.entries
        return []

    def _run(self, method, n, vname, value, seed, override):
        values = {**self.build(method, n, value), "seed": seed}
        if self.smoke:
            values = smoke_values(values)
        values.update(override)
        config = RunConfig.from_dict(values).to_dict()   # validated; every knob spelled out
        row = method + (f" | {vname}" if vname else "")
        name = f"{self.name}/{method}-{n}labels{'-' + vname if vname else ''}-seed{seed}"
        # each method's reported model (Method.reported_model: TE's raw network, as Laine & Aila evaluate it)
        metric = self.metric
        if metric.startswith("ema_"):
            metric = metric.replace("ema", METHOD_CLASSES[method].reported_model, 1)
        return PresetRun(name=name, config=config, notebook=self.notebook, row=row, col=n, metric=metric,
                         paper=self.paper(method, n, value))

    def _pick(self, what, chosen, allowed):
        if chosen is None:
            return tuple(allowed)
        bad = [c for c in chosen if str(c) not in map(str, allowed)]
        if bad:
            raise ValueError(f"{what}={bad} not in preset {self.name!r}; choose from {list(allowed)}")
        return tuple(a for a in allowed if str(a) in map(str, chosen))

    def with_smoke(self):
        """This preset with CI's SMOKE override applied to every run, on CIFAR-10 (runs in seconds)."""
        return Preset(**{**self.__dict__, "name": self.name + "-smoke", "smoke": True,
                         "title": self.title + " [smoke: SMOKE override, CIFAR-10]"})


def smoke_values(values):
    """Apply SMOKE (its RunConfig knobs) to one run's values, on CIFAR-10, keeping them valid."""
    known = set(RunConfig.__dataclass_fields__)
    out = {**values, **{k: v for k, v in SMOKE.items() if k in known}, "dataset": "cifar10", "n_extra_unlabeled": 0}
    if out.get("n_val"):
        out["n_val"] = 50
    if out.get("labeled_per_batch") is not None:
        out["labeled_per_batch"] = min(out["labeled_per_batch"], out["batch_size"])
    if out.get("arch", "convnet13") == "convnet13":    # the CPU scale's network: the same code, seconds not minutes
        out["width"], out["image_size"] = min(out.get("width", 1.0), 0.125), 16
    return out


# ------------------------------------------------------------------ shared ConvNet-13 protocols
def _convnet_common(dataset):
    """The TF code's Model defaults (mean_teacher/model.py) for the 13-layer ConvNet, with the authors'
    normalisation: weight normalisation + mean-only batch norm (mean_teacher/weight_norm.py)."""
    return dict(dataset=dataset, arch="convnet13", convnet_norm="weightnorm", width=1.0, dropout=0.5,
                input_noise=0.15, translate=2,
                optimizer="adam", lr=0.003, lr_schedule="sigmoid", batch_size=100, rampup_steps=40_000,
                rampdown_steps=25_000, adam_beta1=0.9, adam_beta1_rampdown=0.5, adam_beta2_rampup=0.99,
                adam_beta2=0.999, consistency="mse", eval_every=1000)


def svhn_config(method, n_labels, n_val=0):
    """SVHN (Table 1, Figure 4; svhn_final_eval.py / svhn_supervised_final_eval.py)."""
    c = {**_convnet_common("svhn"), "method": method, "n_labels": n_labels, "n_val": n_val,
         "normalization": "per_image", "flip": False, "steps": 180_000,
         "ema_schedule": "rampup_switch", "ema_decay_rampup": 0.99, "ema_decay": 0.999}
    if n_labels >= SVHN_TRAIN:
        # all labels: the code uses 100 labeled per batch, max consistency cost 100 applied to all
        # images (the text only describes the 1 + 99 protocol)
        c.update(labeled_per_batch=100, consistency_weight=100.0, consistency_on="all")
    else:
        c.update(labeled_per_batch=1, consistency_weight=1.0, consistency_on="unlabeled")
    if method == "supervised":
        # svhn_supervised_final_eval.py: 100 labeled per batch, consistency 0; with few labels only
        # 40k steps and a 10k ramp-down (the lr ramp-up then spans the whole run, as in the code)
        c.update(labeled_per_batch=100, consistency_weight=0.0)
        if n_labels < SVHN_TRAIN:
            c.update(steps=40_000, rampdown_steps=10_000)
    if method == "temporal_ensembling":
        # Laine & Aila (tempens config.py, train.py): w_max 30 x n/N, lr 0.001 on SVHN; 300 epochs of
        # 732 full batches, 80-epoch ramp-up, 50-epoch ramp-down, Adam beta2 0.999 throughout
        # (no SVHN preset runs it: the paper's Table 1 row is Laine & Aila's published one)
        epoch = SVHN_TRAIN // 100
        c.update(lr=0.001, consistency_weight=30.0 * n_labels / SVHN_TRAIN, consistency_on="all",
                 labeled_per_batch=None, te_alpha=0.6, steps=300 * epoch, rampup_steps=80 * epoch,
                 rampdown_steps=50 * epoch, adam_beta2_rampup=0.999)
    return c


def cifar10_config(method, n_labels):
    """CIFAR-10 (Table 2; cifar10_final_eval.py / cifar10_supervised_final_eval.py)."""
    c = {**_convnet_common("cifar10"), "method": method, "n_labels": n_labels,
         "normalization": "zca", "flip": True, "steps": 150_000,
         # code: adam_beta_2_during_rampup = 0.999 and ema_decay_during_rampup = 0.999, i.e. no
         # beta2 / EMA switch on CIFAR-10 (the Model default, used on SVHN, is 0.99 during ramp-up)
         "adam_beta2_rampup": 0.999, "ema_schedule": "constant", "ema_decay": 0.999,
         # masked random batches of 100 ('vary' labeled per batch), max cost 100 n/50000 on all images
         "labeled_per_batch": None, "consistency_weight": 100.0 * n_labels / CIFAR10_TRAIN,
         "consistency_on": "all"}
    if n_labels >= CIFAR10_TRAIN:
        c.update(labeled_per_batch=100)
    if method == "supervised":
        c.update(labeled_per_batch=100, consistency_weight=0.0)
        if n_labels < CIFAR10_TRAIN:
            # code: 750 epochs of the labeled images, 100-epoch ramp-down (the text gives no length)
            c.update(steps=int(750 * n_labels / 100), rampdown_steps=int(100 * n_labels / 100))
    if method == "temporal_ensembling":
        # Laine & Aila (tempens): 300 epochs x 500 batches, 80-epoch ramp-up, 50-epoch ramp-down,
        # w_max = 30 n/N, ensemble momentum 0.6; beta2 0.999 throughout
        c.update(steps=150_000, rampup_steps=40_000, rampdown_steps=25_000,
                 consistency_weight=30.0 * n_labels / CIFAR10_TRAIN, te_alpha=0.6, labeled_per_batch=None)
    return c


def _seeds(n_all):
    return lambda n: 4 if n >= n_all else 10


def _paper_cell(table, rename=None):
    def lookup(method, n, variant):
        row = table.get((rename or {}).get(method) or _paper.METHOD_ROWS.get(method), {})
        return row.get(n)
    return lookup


# ----------------------------------------------------------------------------- Table 1: SVHN
TABLE1_SVHN = Preset(
    name="table1-svhn", title="Table 1: SVHN error % (ConvNet-13, EMA weights)",
    notebook="book/results_tables.ipynb", label_counts=(250, 500, 1000, SVHN_TRAIN),
    methods=("supervised", "pi", "mean_teacher"), build=lambda m, n, v: svhn_config(m, n),
    n_seeds=_seeds(SVHN_TRAIN), paper=_paper_cell(_paper.TABLE1_SVHN))

# -------------------------------------------------------------------------- Table 2: CIFAR-10
TABLE2_CIFAR10 = Preset(
    name="table2-cifar10", title="Table 2: CIFAR-10 error % (ConvNet-13, EMA weights)",
    notebook="book/results_tables.ipynb", label_counts=(1000, 2000, 4000, CIFAR10_TRAIN),
    methods=("supervised", "pi", "temporal_ensembling", "mean_teacher"),
    build=lambda m, n, v: cifar10_config(m, n), n_seeds=_seeds(CIFAR10_TRAIN),
    paper=_paper_cell(_paper.TABLE2_CIFAR10))


# ----------------------------------------------------------------- Table 3: SVHN + extra images
def _table3_build(method, n, extra):
    # svhn_final_eval.py: 180k / 400k / 600k steps for 0 / 100k / 500k extra unlabeled images
    return {**svhn_config(method, n), "n_extra_unlabeled": extra,
            "steps": {0: 180_000, 100_000: 400_000, 500_000: 600_000}[extra]}


TABLE3_SVHN_EXTRA = Preset(
    name="table3-svhn-extra", title="Table 3: SVHN 500 labels with extra unlabeled images, error %",
    notebook="book/results_tables.ipynb", label_counts=(500,), methods=("pi", "mean_teacher"),
    variants=(("extra0", 0), ("extra100k", 100_000), ("extra500k", 500_000)),
    build=_table3_build, n_seeds=lambda n: 10,
    paper=lambda m, n, extra: _paper.TABLE3_SVHN_EXTRA.get(_paper.METHOD_ROWS[m], {}).get(SVHN_TRAIN + extra))

# ------------------------------------------------------------ Figure 3: SVHN training curves
FIG3_SVHN = Preset(
    name="fig3-svhn", title="Figure 3: SVHN test error curves, Pi model vs Mean Teacher (EMA and student)",
    notebook="book/training_curves.ipynb", label_counts=(250, 500, SVHN_TRAIN), methods=("pi", "mean_teacher"),
    variants=(("", 0), ("extra500k", 500_000)), build=_table3_build, n_seeds=lambda n: 1,
    include=lambda m, n, vname: not vname or n == 500)   # 500k extra images with 500 labels only


# ---------------------------------------------------------------- Table 4: ResNet-26 Shake-Shake
def resnet_config(method, n_labels):
    """pytorch/experiments/cifar10_test.py, 4000 labels: 4 GPUs x (128 with 31 labeled), lr 4 x 0.05.
    Conventions of that code: logit distance averaged over classes; EMA warm start (first decay
    0.5); the teacher's batch-norm statistics from its own training-mode passes."""
    n_unlabeled_per_batch = 512 - 124
    epoch = (CIFAR10_TRAIN - n_labels) // n_unlabeled_per_batch     # an epoch: one pass over unlabeled
    return dict(
        dataset="cifar10", method=method, n_labels=n_labels, arch="resnet26_shakeshake", two_heads=True,
        dropout=0.0, width=1.0,   # no dropout in the ResNet; width does not apply to it (fixed 96/192/384)
        normalization="meanstd", translate=4, flip=True, input_noise=0.0,   # PyTorch code: no Gaussian noise
        batch_size=512, labeled_per_batch=124, optimizer="sgd", nesterov_momentum=0.9, lr=0.2,
        weight_decay=2e-4, lr_schedule="cosine",
        # code: 300 epochs with the cosine sized for 350 (lr_rampdown_epochs), no lr warm-up,
        # a 5-epoch consistency ramp-up
        steps=300 * epoch, cosine_steps=350 * epoch, lr_warmup_steps=0, rampup_steps=5 * epoch,
        rampdown_steps=0, consistency="mse", consistency_weight=100.0, consistency_on="all",
        logit_distance_weight=0.01, logit_distance_classes="mean",
        ema_schedule="warm_start", ema_decay=0.99, eval_every=20 * epoch)


TABLE4_RESNET = Preset(
    name="table4-resnet", title="Table 4: CIFAR-10 4000 labels, ResNet-26 Shake-Shake Mean Teacher, error %",
    notebook="book/results_tables.ipynb", label_counts=(4000,), methods=("mean_teacher",),
    build=lambda m, n, v: resnet_config(m, n), n_seeds=lambda n: 10,
    paper=lambda m, n, v: _paper.TABLE4_CIFAR10_4000["ResNet-26 Mean Teacher"])


# ------------------------------------------------- VAT and Mean Teacher + VAT (the paper's Sec. 1 question)
# The Table 1-2 protocol of Mean Teacher (ConvNet-13, its noise, batches, schedule and, for the
# combinations, its consistency weight) plus the VAT settings of Miyato et al.'s code takerum/vat_tf
# (book/settings.md, "Virtual adversarial training"): epsilon 8.0 on CIFAR-10 and 3.5 on SVHN (README.md
# 31, 35: their runs with augmentation), xi 1e-6 and one power iteration (vat.py 10-12), VAT and entropy
# weights 1 (train_semisup.py 55-63). Stated, not rescaled: epsilon is a norm in the units of the input
# normalisation, which here is Mean Teacher's, not vat_tf's (the settings page gives the factor).
VAT_EPSILON = {"cifar10": 8.0, "svhn": 3.5}
# (variant, method, changes): VAT, VAT+EntMin, and the two combinations of mtlib.training.methods.vat
VAT_ARMS = (("", "vat", {}), ("entmin", "vat", dict(vat_entmin_weight=1.0)),
            ("vat_target=student", "mean_teacher_vat", dict(vat_target="student")),
            ("vat_target=teacher", "mean_teacher_vat", dict(vat_target="teacher")))


def vat_config(dataset, method, n_labels, changes=None):
    """Mean Teacher's paper-scale run on ``dataset`` with ``method`` swapped in and vat_tf's VAT settings."""
    base = (cifar10_config if dataset == "cifar10" else svhn_config)("mean_teacher", n_labels)
    return {**base, "method": method, "vat_epsilon": VAT_EPSILON[dataset], "vat_xi": 1e-6,
            "vat_power_iterations": 1, "vat_weight": 1.0, "vat_entmin_weight": 0.0, **(changes or {})}


def _vat_preset(name, title, dataset, n_labels, table):
    arms = {vname: (method, changes) for vname, method, changes in VAT_ARMS}
    return Preset(
        name=name, title=title, notebook="book/results_tables.ipynb", label_counts=(n_labels,),
        methods=("vat", "mean_teacher_vat"), variants=tuple((vname, vname) for vname in arms),
        build=lambda m, n, vname: vat_config(dataset, m, n, arms[vname][1]), n_seeds=lambda n: 10,
        include=lambda m, n, vname: arms[vname][0] == m,
        paper=lambda m, n, vname: table["VAT+EntMin [15]"].get(n) if (m, vname) == ("vat", "entmin") else None)


TABLE2_VAT = _vat_preset("table2-cifar10-vat", "CIFAR-10 4000 labels: VAT, VAT+EntMin and Mean Teacher + VAT "
                         "(a: student's own VAT cost, b: adversarial to the teacher), error %",
                         "cifar10", 4000, _paper.TABLE2_CIFAR10)
TABLE1_VAT = _vat_preset("table1-svhn-vat", "SVHN 1000 labels: VAT, VAT+EntMin and Mean Teacher + VAT "
                         "(a: student's own VAT cost, b: adversarial to the teacher), error %",
                         "svhn", 1000, _paper.TABLE1_SVHN)


# --------------------------------------------------------------------- Figure 4: SVHN ablations
def _fig4(name, title, knob_values, apply, n_labels=250):
    """An ablation of Figure 4: SVHN, mean teacher, 4 seeds, 7,325 validation images held out
    (the code runs these with test_phase=False and reports the validation error)."""
    variants = tuple((f"{name.split('-', 1)[1]}={label}", value) for label, value in knob_values)
    return Preset(
        name=name, title=title, notebook="book/results_tables.ipynb", label_counts=(n_labels,),
        methods=("mean_teacher",), variants=variants, n_seeds=lambda n: 4, metric="ema_val_error",
        build=lambda m, n, value: {**svhn_config(m, n, n_val=7325), **apply(value)})


FIG4_EMA = _fig4(
    "fig4-ema_decay", "Figure 4(c): EMA decay, SVHN 250 labels, validation error %",
    [(str(a), ("constant", a)) for a in (0.0, 0.9, 0.97, 0.99, 0.997, 0.999, 0.9997, 0.9999)]
    + [("0.99-0.999", ("rampup_switch", 0.999))],
    lambda v: dict(ema_schedule=v[0], ema_decay=v[1], ema_decay_rampup=0.99))
FIG4_WEIGHT = _fig4(
    "fig4-consistency_weight", "Figure 4(d): consistency weight, SVHN 250 labels, validation error %",
    [(str(w), w) for w in (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)], lambda w: dict(consistency_weight=w))
# (a) svhn_250_vary_perturbation.py: dropout 0.5 / 0 (student and teacher alike) x input noise 0.15 / 0
# x translation on / off, 8 combinations
FIG4_NOISE = _fig4(
    "fig4-noise", "Figure 4(a): dropout, input noise and translation on / off, SVHN 250 labels",
    [(f"dropout{d}-noise{s}-translate{t}", (d, s, t)) for d in (0.5, 0.0) for s in (0.15, 0.0) for t in (2, 0)],
    lambda v: dict(dropout=v[0], teacher_dropout=True, input_noise=v[1], translate=v[2]))
# (b) svhn_250_vary_dropout.py: (student, teacher) dropout pairs with student == teacher or student 0.5:
# (0, 0), (.25, .25), (.5, 0), (.5, .25), (.5, .5), (.5, .75), (.75, .75). RunConfig turns the teacher's
# dropout on (the student's rate) or off, so (.5, .25) and (.5, .75) are not run (book/settings.md).
FIG4_DROPOUT = _fig4(
    "fig4-dropout", "Figure 4(b): student / teacher dropout, SVHN 250 labels (5 of the code's 7 pairs)",
    [(f"student{s}-teacher{t}", (s, t)) for s, t in ((0.0, 0.0), (0.25, 0.25), (0.5, 0.0), (0.5, 0.5), (0.75, 0.75))],
    lambda v: dict(dropout=v[0], teacher_dropout=v[1] == v[0]))
# The text puts all of Figure 4 at 250 labels; the code runs the logit-distance and consistency-
# trust sweeps (svhn_250_vary_logit_distance_cost.py, svhn_250_vary_trust.py) with n_labeled=500.
FIG4_LOGIT = _fig4(
    "fig4-logit_distance", "Figure 4(e): logit distance (two heads), SVHN 500 labels (as the code)",
    [(str(w), (True, w)) for w in (0.0, 0.001, 0.01, 0.1, 1.0)] + [("one-head", (False, 0.0))],
    lambda v: dict(two_heads=v[0], logit_distance_weight=v[1]), n_labels=500)
FIG4_TAU = _fig4(
    "fig4-consistency_tau", "Figure 4(f): consistency cost MSE (tau 0) to KL (tau 1), SVHN 500 labels (as the code)",
    [(str(t), t) for t in (0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0)],
    lambda t: dict(consistency_tau=t), n_labels=500)

# ----------------------------------------------------- the book's CPU scale (precomputed once)
def _cpu(name, title, notebook, label_counts, methods, seeds, variants=(("", {}),), metric="ema_test_error",
         weights=None):
    """A CPU-scale preset; ``weights``: {method: consistency weight} (the headline runs' own weights)."""
    weights = weights or {}
    return Preset(name=name, title=title, notebook=notebook, label_counts=tuple(label_counts),
                  methods=tuple(methods), variants=tuple(variants), n_seeds=lambda n: len(seeds), metric=metric,
                  scale="cpu", build=lambda m, n, changes: {**CPU_SCALE, "method": m, "n_labels": n, **changes,
                                               **({"consistency_weight": weights[m]} if m in weights else {})})


_CPU_BASE = RunConfig(**{**CPU_SCALE, "method": "mean_teacher"})


def _changes(cfg):
    """(name, changes) of an ablation point against the CPU-scale base run."""
    changes = {k: v for k, v in cfg.to_dict().items() if v != _CPU_BASE.to_dict()[k]}
    return ",".join(f"{k}={v}" for k, v in changes.items()) or "base", changes
CPU_PRESETS = (
    _cpu("cpu-tables", "CPU scale: Tables 1-2 proxy, every method and label count at its own weight, paired seeds",
         "book/results_tables.ipynb", CPU_GRIDS["label_counts"], CPU_GRIDS["methods"], CPU_GRIDS["seeds"],
         weights=CPU_GRIDS["method_weights"]),
    _cpu("cpu-curves", "CPU scale: Figure 3 proxy, every training image labeled (the few-label column is cpu-tables)",
         "book/training_curves.ipynb", [CPU_SCALE["max_train"]], ["pi", "mean_teacher"], CPU_GRIDS["seeds"],
         [("all-labeled", ALL_LABELED)]),
    _cpu("cpu-ablations", "CPU scale: Figure 4 proxy, every ablation point", "book/ablations.ipynb",
         [CPU_SCALE["n_labels"]], ["mean_teacher"], CPU_GRIDS["ablation_seeds"],
         [_changes(cfg) for cfg in figure4_points(_CPU_BASE, CPU_GRIDS).values()]),
    _cpu("cpu-validation", "CPU scale: each method's consistency weight, read from validation error",
         "book/results_tables.ipynb", [CPU_SCALE["n_labels"]], CPU_GRIDS["validation_methods"],
         CPU_GRIDS["validation_seeds"],
         [(f"weight={w:g}", dict(consistency_weight=w, n_val=CPU_GRIDS["validation_n_val"]))
          for w in CPU_GRIDS["validation_weights"]],
         metric="ema_val_error"),   # what the choice reads; the CLI prints it, never these runs' test error
    _cpu("cpu-validation-beyond", "CPU scale: every method at the weights beyond the validation grid's edge "
         "where a choice sits on it", "book/results_tables.ipynb", [CPU_SCALE["n_labels"]],
         CPU_GRIDS["validation_methods"], CPU_GRIDS["validation_seeds"],
         [(f"weight={w:g}", dict(consistency_weight=w, n_val=CPU_GRIDS["validation_n_val"]))
          for w in CPU_GRIDS["validation_weights_extra"]], metric="ema_val_error"),
    _cpu("cpu-ladder", "CPU scale: Mean Teacher's EMA rungs of the ladder (decay 0, the paper's schedule)",
         "book/what_makes_mt_win.ipynb", [CPU_SCALE["n_labels"]], ["mean_teacher"], CPU_GRIDS["seeds"],
         CPU_GRIDS["ladder_ema"]),
    _cpu("cpu-longer", "CPU scale at 3x the steps: EMA decay 0 against the paper's schedule",
         "book/what_makes_mt_win.ipynb", [CPU_SCALE["n_labels"]], ["mean_teacher"], CPU_GRIDS["longer_seeds"],
         [(name, {**changes, **LENGTHS[LENGTH_LONG]}) for name, changes in CPU_GRIDS["ladder_ema"]]),
    # is the collapse the consistency cost or the missing regularisation? supervised-only at the same
    # point, the same seeds as the ablations (its base run is cpu-tables' supervised run)
    # the Mean Teacher chapter's exercises 2-4, which the committed runs do not answer: weight 100, a
    # teacher without dropout, and the consistency cost on every image at weights 3, 30 and 100 (the
    # sliders' seeds; the other points of those exercises are Figure 4's runs)
    _cpu("cpu-mean-teacher-exercises", "CPU scale: the Mean Teacher chapter's exercises (weight 100, a teacher "
         "without dropout, the consistency cost on all images)", "book/mean_teacher.ipynb",
         [CPU_SCALE["n_labels"]], ["mean_teacher"], CPU_GRIDS["ablation_seeds"],
         [("weight=100", {"consistency_weight": 100.0}), ("teacher without dropout", {"teacher_dropout": False})]
         + [(f"consistency on all, weight={w:g}", {"consistency_on": "all", "consistency_weight": w})
            for w in (3.0, 30.0, 100.0)]),
    _cpu("cpu-ablations-supervised", "CPU scale: supervised-only at the ablations' collapse point (no "
         "augmentation, no dropout)", "book/ablations.ipynb", [CPU_SCALE["n_labels"]], ["supervised"],
         CPU_GRIDS["ablation_seeds"], [(COLLAPSE_NAME, COLLAPSE)]),
)


def _label_curve_build(method, n_labels, changes):
    """A run of the label-count curve: the CPU scale at ``n_labels``, the method at its weight validated at
    100 labels, and at all labels (max_train) the all-labeled batches (ALL_LABELED)."""
    weights = CPU_GRIDS["method_weights"]
    return {**CPU_SCALE, "method": method, "n_labels": n_labels,
            **(ALL_LABELED if n_labels == CPU_SCALE["max_train"] else {}),
            **({"consistency_weight": weights[method]} if method in weights else {}), **(changes or {})}


# the label counts cpu-tables does not run; the curve's 100 and 400 are cpu-tables' runs (seeds 0-7) and
# Mean Teacher's all-labeled runs are cpu-curves' (the same runs: Mean Teacher's validated weight is 3)
CPU_LABEL_CURVE = Preset(
    name="cpu-label-curve", title="CPU scale: error against the number of labels (the shape of Tables 1-2), "
    "every method at its validated weight, paired seeds", notebook="book/results_tables.ipynb",
    label_counts=tuple(CPU_GRIDS["label_curve_counts"]), methods=tuple(CPU_GRIDS["methods"]),
    n_seeds=lambda n: len(CPU_GRIDS["label_curve_seeds"]), default_seeds=tuple(CPU_GRIDS["label_curve_seeds"]),
    scale="cpu", build=_label_curve_build)
CPU_PRESETS += (CPU_LABEL_CURVE,)


# ------------------------------- both lengths, each method at its own validated value, seeds fixed in advance
# Mean Teacher's EMA variants besides its own at a length (CPU_GRIDS["mean_teacher_ema"]): the ladder's
# two rungs and the CPU scale's constant decay ({}: CPU_SCALE's own)
EMA_VARIANTS = {**dict(CPU_GRIDS["ladder_ema"]), f"decay {CPU_SCALE['ema_decay']:g}": {}}


def length_values(method, n_labels, length, ema=None, chosen_knob=True, changes=None):
    """The RunConfig values of one arm at ``length`` (``mtlib.scales.LENGTHS``): the CPU scale at that
    length; Mean Teacher at its EMA for the length, or at ``ema`` (``EMA_VARIANTS``); with
    ``chosen_knob`` the method at the value validation chose for it there (``mtlib.scales.chosen_knobs``:
    NotChosenYet while it is None); then ``changes``."""
    if length not in LENGTHS:
        raise ValueError(f"length={length!r} is not one of {list(LENGTHS)}")
    values = {**CPU_SCALE, **LENGTHS[length], "method": method, "n_labels": n_labels}
    if method == "mean_teacher":
        if ema is not None and ema not in EMA_VARIANTS:
            raise ValueError(f"ema={ema!r} is not one of {list(EMA_VARIANTS)}")
        values.update(CPU_GRIDS["mean_teacher_ema"][length] if ema is None else EMA_VARIANTS[ema])
    if chosen_knob:
        values.update(chosen_knobs(method, length, needed_by=f"{method} at {length}"))
    return {**values, **(changes or {})}


def _arm(length, ema=None, chosen_knob=True, label="", **changes):
    """(variant name, value) of a length preset: "<length>[, <Mean Teacher's EMA variant>][, <label>]"."""
    name = ", ".join(part for part in (length, ema, label) if part)
    return name, dict(length=length, ema=ema, chosen_knob=chosen_knob, changes=changes)


def _by_length(name, title, methods, seeds, variants, metric="ema_test_error", default_seeds=None):
    """A preset of arms at the CPU scale's lengths (``variants``: ``_arm`` pairs), 100 labels; an EMA
    variant runs Mean Teacher only."""
    ema = {vname: value["ema"] for vname, value in variants}
    return Preset(name=name, title=title, notebook="book/results_tables.ipynb", label_counts=(CPU_SCALE["n_labels"],),
                  methods=tuple(methods), variants=tuple(variants), n_seeds=lambda n: len(seeds), metric=metric,
                  default_seeds=None if default_seeds is None else tuple(default_seeds), scale="cpu",
                  build=lambda m, n, v: length_values(m, n, **v),
                  include=lambda m, n, vname: m == "mean_teacher" or ema[vname] is None)


def _other_ema(length):
    """Mean Teacher's ladder rungs that differ from its own EMA at ``length``."""
    return [name for name, changes in CPU_GRIDS["ladder_ema"] if changes != CPU_GRIDS["mean_teacher_ema"][length]]


_VAL = dict(n_val=CPU_GRIDS["validation_n_val"])
LENGTH_PRESETS = (
    _by_length("cpu-validation-long", "Long CPU scale (9000 steps): each method's consistency weight, read from "
               "validation error (Mean Teacher at the paper's EMA schedule)", CPU_GRIDS["validation_methods"],
               CPU_GRIDS["validation_seeds"],
               [_arm(LENGTH_LONG, chosen_knob=False, label=f"weight={w:g}", consistency_weight=w, **_VAL)
                for w in CPU_GRIDS["validation_weights"]], metric="ema_val_error"),
    _by_length("cpu-validation-long-beyond", "Long CPU scale (9000 steps): every method at the weights beyond the "
               "validation grid's edge where a choice sits on it", CPU_GRIDS["validation_methods"],
               CPU_GRIDS["validation_seeds"],
               [_arm(LENGTH_LONG, chosen_knob=False, label=f"weight={w:g}", consistency_weight=w, **_VAL)
                for w in CPU_GRIDS["validation_weights_long_extra"]], metric="ema_val_error"),
    _by_length("cpu-validation-supervised", "CPU scale at both lengths: supervised-only's dropout, read from "
               "validation error (the same budget as each method's weight)", ["supervised"],
               CPU_GRIDS["validation_seeds"],
               [_arm(length, chosen_knob=False, label=f"dropout={d:g}", dropout=d, **_VAL) for length in LENGTHS
                for d in CPU_GRIDS["validation_dropouts"]], metric="ema_val_error"),
    _by_length("cpu-validation-supervised-beyond", "CPU scale at both lengths: supervised-only at the dropout "
               "beyond its grid's edge where its choice sits on it", ["supervised"], CPU_GRIDS["validation_seeds"],
               [_arm(length, chosen_knob=False, label=f"dropout={d:g}", dropout=d, **_VAL) for length in LENGTHS
                for d in CPU_GRIDS["validation_dropouts_extra"]], metric="ema_val_error"),
    # exploratory: seeds 0-7, every method at its value chosen for 9,000 steps, and Mean Teacher also at
    # the CPU scale's constant 0.99; refuses (NotChosenYet) while those values are None
    _by_length("cpu-tables-long", "Long CPU scale (9000 steps), 100 labels: every method at its own validated "
               "value; Mean Teacher at the paper's schedule and at constant 0.99 (exploratory seeds)",
               CPU_GRIDS["methods"], CPU_GRIDS["seeds"],
               [_arm(LENGTH_LONG), _arm(LENGTH_LONG, ema=f"decay {CPU_SCALE['ema_decay']:g}")]),
    # confirmatory: the seeds of mtlib.book.claims, fixed before any of these runs; both lengths, each
    # method at the value validated for that length, Mean Teacher also at decay 0 and, at 3,000 steps,
    # at the paper's schedule (at 9,000 it is Mean Teacher's own); refuses while a value is None
    _by_length("cpu-confirm", "Confirmatory runs of mtlib.book.claims (seeds 100-107): both lengths, every "
               "method at its validated value, Mean Teacher also at decay 0 and the paper's schedule",
               CPU_GRIDS["methods"], CONFIRM_SEEDS,
               [arm for length in LENGTHS for arm in [_arm(length)] + [_arm(length, ema=e) for e in _other_ema(length)]],
               default_seeds=CONFIRM_SEEDS),
)
CPU_PRESETS += LENGTH_PRESETS


def arms(preset, seeds=None):
    """{(length, arm): [PresetRun]} of a length preset; arm: the method ("mean_teacher": its own EMA at
    that length), or "mean_teacher, <EMA variant>" (e.g. "mean_teacher, decay 0")."""
    values, out = dict(preset.variants), {}
    if preset.name not in {p.name for p in LENGTH_PRESETS}:
        raise ValueError(f"preset={preset.name!r} has no arms; choose one of {[p.name for p in LENGTH_PRESETS]}")
    for run in preset.runs(seeds=seeds):
        method, _, vname = run.row.partition(" | ")
        value = values[vname]
        arm = method + (f", {value['ema']}" if value["ema"] else "")
        out.setdefault((value["length"], arm), []).append(run)
    return out


def arm_results(preset, folder, seeds=None):
    """{(length, arm): [RunResult]} of the runs of ``arms`` whose results file in ``folder`` matches
    (the others are left out: the claims' verdicts name what is missing)."""
    return {key: matching_results(folder, [r.config for r in runs])[0] for key, runs in arms(preset, seeds).items()}


def preset_results(names, folder):
    """``(results, missing)``: the runs of the presets ``names`` (a grid and the points the edge rule adds
    beyond it, read as one) whose results file in ``folder`` matches, and how many of their runs do not."""
    return matching_results(folder, [r.config for name in names for r in get_preset(name).runs()])


_PAPER_PRESETS = (TABLE1_SVHN, TABLE2_CIFAR10, TABLE3_SVHN_EXTRA, TABLE4_RESNET, FIG3_SVHN,
                  FIG4_EMA, FIG4_WEIGHT, FIG4_NOISE, FIG4_DROPOUT, FIG4_LOGIT, FIG4_TAU, TABLE1_VAT, TABLE2_VAT)
PRESETS = {p.name: p for p in _PAPER_PRESETS}
PRESETS.update({p.name + "-smoke": p.with_smoke() for p in _PAPER_PRESETS})
PRESETS.update({p.name: p for p in CPU_PRESETS})


def get_preset(name):
    """The preset called ``name`` (ValueError naming the known ones otherwise)."""
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is unknown; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]



# ------------------------------------------ the CPU scale: VAT and Mean Teacher + VAT (mtlib.book.vat_study)
def _vat_arm_builder(length=LENGTH_SHORT):
    """The build of a VAT preset's runs at ``length``: ``value`` is (arm, ε or None: the arm's chosen ε,
    NotChosenYet while None; further changes), the baselines at their validated values there
    (``vat_study.baseline_values``)."""
    def build(method, n, value):
        arm, epsilon, changes = (tuple(value) + ({},))[:3]
        if arm in _vat_study.BASELINES:
            return {**CPU_SCALE, "n_labels": n, **_vat_study.baseline_values(arm, length=length)}
        epsilon = _vat_study.book_epsilons()[arm] if epsilon is None else epsilon
        return {**CPU_SCALE, "n_labels": n, **_vat_study.arm_values(arm, epsilon, length), **changes}
    return build


def _vat_include(method, n, vname):
    """A variant "<arm>[, eps=...]" runs its arm's method only."""
    arm = vname.split(",")[0]
    return (_vat_study.ARMS[arm]["method"] if arm in _vat_study.ARMS else arm) == method


CPU_VAT_VALIDATION = Preset(
    name="cpu-vat-validation", title="CPU scale: each VAT arm's epsilon (VAT, Mean Teacher + VAT a and b), read "
    "from validation error", notebook="book/mean_teacher_vat.ipynb", label_counts=(CPU_SCALE["n_labels"],),
    methods=("vat", "mean_teacher_vat"), n_seeds=lambda n: len(CPU_GRIDS["validation_seeds"]),
    default_seeds=tuple(CPU_GRIDS["validation_seeds"]), metric="ema_val_error", scale="cpu",
    variants=tuple((f"{arm}, eps={e:g}", (arm, e, dict(n_val=CPU_GRIDS["validation_n_val"])))
                   for e in CPU_GRIDS["vat_epsilons"] for arm in _vat_study.ARMS),
    build=_vat_arm_builder(), include=_vat_include)
# the seeds of the chapter's claims (mtlib.book.vat_claims, 100-107) at each length: the arms at their chosen
# epsilon, Mean Teacher and supervised-only at their validated values (cpu-confirm's runs, the same files);
# refuses (NotChosenYet) while CPU_GRIDS["vat_epsilon"] (or a baseline's value) is None
def _cpu_vat(name, length, title):
    return Preset(name=name, title=title, notebook="book/mean_teacher_vat.ipynb", scale="cpu",
                  label_counts=(CPU_SCALE["n_labels"],), methods=("vat", "mean_teacher_vat") + _vat_study.BASELINES,
                  n_seeds=lambda n: len(_vat_claims.SEEDS), default_seeds=tuple(_vat_claims.SEEDS),
                  variants=tuple((arm, (arm, None)) for arm in _vat_study.ARMS_AT[length] + _vat_study.BASELINES),
                  build=_vat_arm_builder(length), include=_vat_include)


CPU_VAT = _cpu_vat("cpu-vat", LENGTH_SHORT, "CPU scale, 100 labels: VAT and Mean Teacher + VAT (a, b) at their "
                   "validated epsilon against Mean Teacher and supervised-only at theirs, paired seeds")
CPU_VAT_LONG = _cpu_vat("cpu-vat-long", LENGTH_LONG, "Long CPU scale (9000 steps), 100 labels: Mean Teacher + VAT "
                        "(b) at the epsilon validated at 3000 steps, Mean Teacher's weight and EMA as validated at "
                        "9000, against Mean Teacher and supervised-only there")
CPU_PRESETS += (CPU_VAT_VALIDATION, CPU_VAT, CPU_VAT_LONG)
PRESETS.update({p.name: p for p in (CPU_VAT_VALIDATION, CPU_VAT, CPU_VAT_LONG)})
