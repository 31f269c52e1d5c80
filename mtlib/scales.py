"""The book's named scales besides the paper's: the CPU scale, its long version, CI's smoke override.

``CPU_SCALE`` is the one definition of the rendered book's base run: every chapter builds its runs
from it (``RunConfig(**CPU_SCALE)`` plus the chapter's own knobs and any papermill override).
``CPU_LONG_SCALE`` is the same at 3x the steps (``LONG``: the ramps and the evaluation interval
scaled with them); ``LENGTHS`` names the two. ``SMOKE`` is what CI passes with ``papermill -p`` to
execute every code path in seconds.
"""


# The book's CPU scale (see the introduction for how it was chosen, with measurements).
CPU_SCALE = dict(
    dataset="cifar10", classes=["airplane", "automobile", "frog", "horse"], max_train=8000,
    image_size=16, width=0.125, translate=1, flip=True, input_noise=0.15,
    n_labels=100, labeled_per_batch=20, batch_size=100, steps=3000, rampup_steps=1000,
    rampdown_steps=500, consistency_weight=3.0, consistency_on="unlabeled", ema_decay=0.99,
    normalization="zca", eval_every=250, threads=1, channels_last=True,
    # the book's evidence is float32 on every CPU (a paired comparison never crosses two precisions;
    # the appendix measures bf16 - fp32); a reader's own runs may pass precision="auto" or "bf16"
    precision="fp32",
)

# The long CPU scale: 3x the steps of the CPU scale, the ramps and the evaluation interval scaled with
# them (the paper's runs are ~50x longer still); everything else is CPU_SCALE's
LONG = dict(steps=9000, rampup_steps=3000, rampdown_steps=1500, eval_every=750)
CPU_LONG_SCALE = {**CPU_SCALE, **LONG}
# the two lengths of every length comparison: {name: changes to CPU_SCALE}
LENGTHS = {f"{CPU_SCALE['steps']} steps": {}, f"{LONG['steps']} steps": LONG}
LENGTH_SHORT, LENGTH_LONG = LENGTHS          # "3000 steps", "9000 steps"
# the paper's EMA schedule (Sec. 3.4, the SVHN runs): decay 0.99 during the ramp-up, 0.999 after it
PAPER_EMA = dict(ema_schedule="rampup_switch", ema_decay_rampup=0.99, ema_decay=0.999)

# every training image labeled: plain batches of labeled images and the consistency cost on all of them,
# as the authors' scripts do when no image is unlabeled (cpu-curves; the label-count curve's last count)
ALL_LABELED = dict(labeled_per_batch=None, consistency_on="all")

# CI's tiny override: every code path, seconds per chapter, never saved among the book's results.
SMOKE = dict(
    steps=6, rampup_steps=2, rampdown_steps=2, eval_every=3, max_train=300, max_test=100,
    n_labels=40, labeled_per_batch=10, batch_size=20, results_scale="smoke", check_claims=False,
    seeds=[0, 1], ablation_seeds=[0, 1], label_counts=[40],   # chapter grids: 2 seeds, the minimum for an interval
    validation_seeds=[0, 1], validation_weights=[1.0, 3.0], validation_n_val=100,
    longer_seeds=[0, 1], longer=dict(steps=12, rampup_steps=4, rampdown_steps=4, eval_every=6), train_longer=True,
    train_targets=True,
    train_vat=True,      # the VAT chapter (a draft): train its runs at this scale
    label_curve_counts=[20, 300], label_curve_seeds=[0, 1], train_label_curve=True,   # 300: all labels
    train_collapse=True,
    norm_seeds=[0, 1], norm_recalibrate_batches=2,   # the paper-scale chapter's normalisation comparison
)

# The CPU scale's grids: the seeds, label counts and swept values that the chapters show by default
# and that ``python -m mtlib.reproduce run cpu-tables | cpu-curves | cpu-ablations`` precomputes.
# Seeds are paired: seed s gives every method the same label split, subset and initialisation.
CPU_GRIDS = dict(
    methods=["supervised", "pi", "temporal_ensembling", "mean_teacher"],
    label_counts=[100, 400],
    seeds=[0, 1, 2, 3, 4, 5, 6, 7],          # every headline cell: Tables 1-2 proxy, Figure 3 curves
    ablation_seeds=[0, 1, 2, 3],             # every Figure 4 point (and the Mean Teacher chapter's sliders)
    noise_grid=[0.0, 0.15, 0.3],
    augment_grid=[True, False],
    dropout_grid=[0.0, 0.5],
    ema_grid=[0.0, 0.9, 0.99, 0.999],
    weight_grid=[0.0, 1.0, 3.0, 10.0, 30.0],
    logit_distance_grid=[0.01, 0.1, 1.0],
    tau_grid=[0.0, 0.5, 1.0],
    # choices read from validation error: n_val images of the max_train subset are held out (labels
    # are drawn from the rest); each semi-supervised method gets the same weight grid and seeds
    validation_n_val=1000,
    validation_methods=["pi", "temporal_ensembling", "mean_teacher"],
    validation_weights=[1.0, 3.0, 10.0],
    validation_seeds=[0, 1, 2, 3],
    # where some method's choice sits on an edge of validation_weights, every method also runs the point
    # beyond that edge (mtlib.book.validation.beyond_edges; one step of the grid's half-decade spacing)
    validation_beyond=(0.3, 30.0),
    # ... at 3,000 steps: the Pi model and Temporal Ensembling chose weight 1, the grid's low edge, so
    # every method also runs weight 0.3 (cpu-validation-beyond; a test recomputes this from cpu-validation)
    validation_weights_extra=[0.3],
    # ... at 9,000 steps: every method chose weight 1, the low edge, so every method also runs 0.3 there
    # (cpu-validation-long-beyond; a test recomputes this from cpu-validation-long)
    validation_weights_long_extra=[0.3],
    # the weight each method's headline runs (cpu-tables) use: the lowest mean final validation error
    # of the grid above (mtlib.book.validation.choose_weights; the results chapter shows the table and
    # a test recomputes it from the committed runs). Supervised-only has no consistency cost and keeps
    # CPU_SCALE's value; the ladder and the ablations keep it too (one weight for every rung / point).
    method_weights=dict(pi=1.0, temporal_ensembling=1.0, mean_teacher=3.0),
    # what makes Mean Teacher win: the EMA rungs of the ladder and the same at 3x the steps. The other
    # rungs run at CPU_SCALE's weight too: supervised-only and Mean Teacher at 0.99 are cpu-tables runs,
    # the Pi model's is `run cpu-tables --methods pi --labels 100 --override consistency_weight=3`
    ladder_ema=[("decay 0", dict(ema_decay=0.0)), ("paper schedule", PAPER_EMA)],
    longer=LONG,        # the chapters' name (a parameter of the ladder chapter) for the long scale
    # seeds 0-3 were the plan; 4-7 were added after 0-3 left the trend not resolved (the chapter says so)
    longer_seeds=[0, 1, 2, 3, 4, 5, 6, 7],
    # the authors' ConvNet-13 normalisation against the CPU scale's batch norm (paper-scale chapter), each
    # run also evaluated with statistics recalibrated on 20 noisy training batches (RunConfig.recalibrate_batches)
    norm_seeds=[0, 1, 2, 3, 4, 5, 6, 7],
    norm_recalibrate_batches=20,
    # error against the number of labels (the shape of Tables 1-2; cpu-label-curve): the label counts
    # cpu-tables does not run, each method at its weight validated at 100 labels (method_weights); all
    # labels (max_train) uses cpu-curves' all-labeled batches (ALL_LABELED)
    label_curve_counts=[50, 200, 1000, 8000],
    label_curve_seeds=[0, 1, 2, 3],
    # --- the long scale (LONG) and the pre-registered confirmation (mtlib.book.claims) ---
    # Mean Teacher's EMA at each length (LENGTHS): the CPU scale's constant 0.99 at 3,000 steps, the
    # paper's schedule at 9,000 (long enough for a slow average; the ladder chapter's question)
    mean_teacher_ema={LENGTH_SHORT: {}, LENGTH_LONG: PAPER_EMA},
    # supervised-only's tuning budget, the same as a semi-supervised method's (3 values x
    # validation_seeds x validation_n_val), on its own regulariser: dropout. The three bracket the
    # paper's 0.5 on both sides, as validation_weights bracket the CPU scale's weight 3, and are values
    # of the authors' own dropout sweep (TF experiments/svhn_250_vary_dropout.py: 0, 0.25, 0.5, 0.75),
    # so none is ours: a network 8x narrower may want less dropout, 100 labels may want more
    validation_dropouts=[0.25, 0.5, 0.75],
    # the same edge rule as the weights (validation.beyond_edges): the point beyond each edge, 0 the
    # authors' own sweep value below 0.25; at both lengths supervised-only chose 0.25, the low edge, so
    # it also runs dropout 0 there (cpu-validation-supervised-beyond; a test recomputes this)
    validation_dropouts_beyond=(0.0, 0.9),
    validation_dropouts_extra=[0.0],
    # chosen values, None until chosen: mtlib.scales.chosen raises NotChosenYet naming the entry and
    # the preset whose runs choose it (CHOSEN_BY); the presets that need them refuse until then.
    # The weights at 9,000 steps (cpu-validation-long and, by the edge rule, cpu-validation-long-beyond;
    # mtlib.book.validation.choose_weights): the Pi model's 0.3 is the widened grid's edge (it stays)
    method_weights_long=dict(pi=0.3, temporal_ensembling=1.0, mean_teacher=1.0),
    # supervised-only's dropout at 3,000 and at 9,000 steps (cpu-validation-supervised and, by the edge
    # rule, cpu-validation-supervised-beyond; mtlib.book.validation.choose_supervised): 0.25 at both,
    # dropout 0 beyond the edge being worse at both. cpu-tables keeps CPU_SCALE's 0.5 (committed runs)
    supervised_dropout=0.25,
    supervised_dropout_long=0.25,
    # --- VAT and Mean Teacher + VAT (the paper's Sec. 1 question; mtlib.book.vat_study) ---
    # epsilon is an L2 norm in the normalised input's units. The CPU scale's training images have an RMS
    # norm of 18.7 (GCN + ZCA at 16x16; mtlib.book.vat_measure.image_norms, all 8,000), so vat_tf's
    # CIFAR-10 epsilon 8 on its norm-55.4 images (14.4 % of an image) is 2.7 here; the grid is 0.5x,
    # 1x and 2x of that (book/settings.md, "Virtual adversarial training")
    vat_epsilons=[1.35, 2.7, 5.4],
    # xi fixed by a measurement, not by error: at 1e-3 the float32 power iteration finds the float64
    # H d with a median cosine of 0.9997 on the CPU-scale network, at vat_tf's 1e-6 0.08 (settings page)
    vat_xi=1e-3,
    # each arm's epsilon (mtlib.book.vat_study.ARMS: "vat", "mean_teacher_vat/student", ".../teacher"),
    # the lowest mean final validation error of vat_epsilons (cpu-vat-validation,
    # mtlib.book.vat_study.choose_epsilons): as chosen from cpu-vat-validation's 36 runs; (a) and (b) chose an
    # edge of the grid, which is not widened (the chapter's budget; the chapter says so)
    vat_epsilon={"vat": 2.7, "mean_teacher_vat/student": 5.4, "mean_teacher_vat/teacher": 1.35},
)

# the preset whose runs choose each chosen value of CPU_GRIDS (None until then)
CHOSEN_BY = {"method_weights": "cpu-validation", "method_weights_long": "cpu-validation-long",
             "supervised_dropout": "cpu-validation-supervised",
             "supervised_dropout_long": "cpu-validation-supervised", "vat_epsilon": "cpu-vat-validation"}
# where each length's chosen values live: the semi-supervised methods' consistency weights and
# supervised-only's dropout
CHOSEN_AT = {LENGTH_SHORT: dict(weights="method_weights", supervised="supervised_dropout"),
             LENGTH_LONG: dict(weights="method_weights_long", supervised="supervised_dropout_long")}


class NotChosenYet(ValueError):
    """A run needs a value of CPU_GRIDS that validation has not chosen yet (it is None)."""

    def __init__(self, entries, needed_by="this"):
        self.entries = list(dict.fromkeys(entries))
        where = "; ".join(f'CPU_GRIDS["{e}"] (chosen from `python -m mtlib.reproduce run {CHOSEN_BY[e]}`)'
                          for e in self.entries)
        one = len(self.entries) == 1
        super().__init__(f"{needed_by} needs {where}, which {'is' if one else 'are'} None (not chosen yet): "
                         f"choose {'it' if one else 'them'} on those runs' validation error "
                         f"(mtlib.book.validation) and write {'it' if one else 'them'} into mtlib/scales.py first")
        runs = list(dict.fromkeys(CHOSEN_BY[e] for e in self.entries))
        self.reader_message = (f"not run yet: these runs wait for values not chosen yet "
                               f"({', '.join(self.entries)}), which validation runs choose "
                               f"({'; '.join(f'`python -m mtlib.reproduce run {r}`' for r in runs)})")


def chosen(entry, needed_by="this"):
    """``CPU_GRIDS[entry]``, a value chosen on validation error; NotChosenYet while it is None."""
    if entry not in CHOSEN_BY:
        raise ValueError(f"entry={entry!r} is not a chosen value; choose from {list(CHOSEN_BY)}")
    if CPU_GRIDS[entry] is None:
        raise NotChosenYet([entry], needed_by)
    return CPU_GRIDS[entry]


def chosen_knobs(method, length, needed_by="this"):
    """The knob validation chose for ``method``'s runs at ``length`` (CHOSEN_AT): a semi-supervised
    method's consistency weight, supervised-only's dropout; NotChosenYet while it is None."""
    if length not in CHOSEN_AT:
        raise ValueError(f"length={length!r} is not one of the CPU scale's lengths {list(CHOSEN_AT)}")
    entries = CHOSEN_AT[length]
    if method == "supervised":
        return {"dropout": chosen(entries["supervised"], needed_by)}
    weights = chosen(entries["weights"], needed_by)
    if method not in weights:
        raise ValueError(f'method={method!r} has no weight in CPU_GRIDS["{entries["weights"]}"]; it has {sorted(weights)}')
    return {"consistency_weight": weights[method]}
