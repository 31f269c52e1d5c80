"""Figure 4's ablations at any scale: which runs each panel needs, and the panels from their results.

A panel varies one knob of the base run (Sec. 3.4), possibly in several series (augmentation on /
off). ``figure4_points`` names every point's config changes once, so the chapter and the
precomputation (``python -m mtlib.reproduce run cpu-ablations``) ask for exactly the same runs.
"""
from mtlib.book import stats
from mtlib.results import run_key
from mtlib.runs import run_grid

AUG_OFF = dict(translate=0, flip=False)


def figure4_panels_spec(base, grids):
    """Panel specs (a)-(f): title, x label, knob, values, the base's value, series -> extra changes."""
    augment = {f"augmentation {'on' if on else 'off'}": {} if on else AUG_OFF for on in grids["augment_grid"]}
    one = {"Mean Teacher": {}}
    return [
        dict(title="(a) input noise", xlabel="input noise σ", axis="input_noise", values=grids["noise_grid"],
             marked=base.input_noise, series=augment),
        dict(title="(b) dropout", xlabel="dropout rate", axis="dropout", values=grids["dropout_grid"],
             marked=base.dropout, series=augment),
        dict(title="(c) EMA decay", xlabel="EMA decay α", axis="ema_decay", values=grids["ema_grid"],
             marked=base.ema_decay, series={"Mean Teacher": {"ema_schedule": "constant"}}),
        dict(title="(d) consistency weight", xlabel="max consistency weight", axis="consistency_weight",
             values=grids["weight_grid"], marked=base.consistency_weight, series=one),
        dict(title="(e) dual output", xlabel="logit distance weight λ", axis="logit_distance_weight",
             values=grids["logit_distance_grid"], marked=None, series={"Mean Teacher": {"two_heads": True}},
             reference="one head (base)"),
        dict(title="(f) cost: MSE (0) to KL (1)", xlabel="τ", axis="consistency_tau", values=grids["tau_grid"],
             marked=0.0, series=one),
    ]


def _point(base, axis, value, extra):
    # tau = 0 is exactly MSE: the base run (consistency_tau=None)
    value = None if axis == "consistency_tau" and value == 0 else value
    return base.replace(**extra, **{axis: value})


def figure4_points(base, grids):
    """{run key: config} of every distinct point of every panel (seed as in ``base``), base included."""
    points = {run_key(base.to_dict()): base}
    for spec in figure4_panels_spec(base, grids):
        for extra in spec["series"].values():
            for value in spec["values"]:
                cfg = _point(base, spec["axis"], value, extra)
                points.setdefault(run_key(cfg.to_dict()), cfg)
    return points


def figure4_panels(base, grids, seeds, results_dir, retrain=False, metric="ema_test_error"):
    """The panels for :func:`mtlib.book.plots.plot_figure4`: per series and value, the runs of ``seeds``
    (each distinct run loaded or trained once)."""
    configs = {}
    for seed in seeds:
        for point in figure4_points(base, grids).values():
            cfg = point.replace(seed=seed)
            configs[run_key(cfg.to_dict())] = cfg
    done = dict(zip(configs, run_grid(list(configs.values()), results_dir, retrain=retrain)))

    def runs(cfg):
        return [done[run_key(cfg.replace(seed=seed).to_dict())] for seed in seeds]

    base_runs = runs(base)
    panels = []
    for spec in figure4_panels_spec(base, grids):
        series = {name: [runs(_point(base, spec["axis"], v, extra)) for v in spec["values"]]
                  for name, extra in spec["series"].items()}
        reference = None
        if spec.get("reference"):
            reference = (sum(r.final[metric] for r in base_runs) / len(base_runs), spec["reference"])
        panels.append(dict(title=spec["title"], xlabel=spec["xlabel"], values=spec["values"],
                           marked=spec["marked"], reference=reference, series=series))
    return panels


def point_runs(panel, value, series=None):
    """The runs (one per seed) at ``value`` of one series of a :func:`figure4_panels` panel (default
    its first series); None when the panel's grid has no such value (a chapter run with other grids)."""
    runs = panel["series"][series or next(iter(panel["series"]))]
    return runs[panel["values"].index(value)] if value in panel["values"] else None


def point_comparisons(panels, base_runs, keys, metric="ema_test_error"):
    """[(key, "point - base" as :class:`mtlib.book.stats.Paired`)] for the Figure 4 points ``keys``
    ((panel title prefix, value, series or None)), in that order; points outside the grids are skipped."""
    out = []
    for prefix, value, series in keys:
        panel = next(p for p in panels if p["title"].startswith(prefix))
        runs = point_runs(panel, value, series)
        if runs is not None:
            name = f"{panel['title']} at {value:g}" + (f", {series}" if series else "")
            out.append(((prefix, value, series), stats.compare(runs, base_runs, name, "base", metric)))
    return out


def check_points(panels, base_runs, expect, metric="ema_test_error", check=True):
    """The interval rule on Figure 4 points against the base run: ``expect`` maps (panel title prefix,
    value, series or None) to the verdict of "point - base" that the text states ("a_lower": the point
    has lower error, "b_lower": the base has, "unresolved"); points outside the grids are skipped.
    Returns {key: verdict got}."""
    return {key: stats.check_claim(c, expect=expect[key], check=check)
            for key, c in point_comparisons(panels, base_runs, expect, metric)}


def check_holm(panels, base_runs, keys, resolved, metric="ema_test_error", check=True, alpha=1 - stats.LEVEL):
    """Holm's rule (``stats.holm``) over the family of Figure 4 points ``keys`` against the base run:
    prints each point's adjusted p; with ``check``, raises AssertionError unless the points it resolves
    are exactly ``resolved`` (the ones the text states at the family's level). Returns {key: adjusted p}."""
    rows = point_comparisons(panels, base_runs, keys, metric)
    verdicts = dict(zip((key for key, _ in rows), stats.holm([c for _, c in rows], alpha)))
    for (key, c), (p, ok) in zip(rows, verdicts.values()):
        print(f"{c.a} - {c.b}: adjusted p = {p:.3f}, {'resolved' if ok else 'not resolved'} by Holm's rule")
    got = {key for key, (_, ok) in verdicts.items() if ok}
    if check and got != set(resolved):
        raise AssertionError(f"the text says Holm's rule resolves {sorted(resolved, key=str)}, it resolves "
                             f"{sorted(got, key=str)}")
    return {key: p for key, (p, _) in verdicts.items()}


# the collapse point of panel (b): augmentation off and dropout 0 (the input noise kept), where Mean
# Teacher ends near chance; supervised-only runs there too (cpu-ablations-supervised)
COLLAPSE = {**AUG_OFF, "dropout": 0.0}
COLLAPSE_NAME = "no augmentation, no dropout"


def collapse_configs(base, seeds):
    """Supervised-only at the base run's settings and at COLLAPSE, one per seed: with Mean Teacher's
    two points of panel (b), they ask whether the collapse is the consistency cost or the missing
    regularisation (the base ones are the results chapter's supervised-only runs)."""
    supervised = base.replace(method="supervised")
    return [supervised.replace(seed=s, **changes) for changes in ({}, COLLAPSE) for s in seeds]


def collapse_arms(panels, base_runs, supervised_runs):
    """{arm name: runs} of the collapse question: Mean Teacher at the base and at COLLAPSE (panel (b)),
    supervised-only at both (``supervised_runs``: the runs of :func:`collapse_configs`); None when the
    panel's grids leave the collapse point out."""
    mt_collapse = point_runs(next(p for p in panels if p["title"].startswith("(b)")), 0.0, "augmentation off")
    if mt_collapse is None:
        return None
    at_collapse = lambda r: all(r.config[k] == v for k, v in COLLAPSE.items())
    return {"Mean Teacher, base": base_runs, f"Mean Teacher, {COLLAPSE_NAME}": mt_collapse,
            "supervised-only, base": [r for r in supervised_runs if not at_collapse(r)],
            f"supervised-only, {COLLAPSE_NAME}": [r for r in supervised_runs if at_collapse(r)]}


def collapse_comparisons(arms, metric="ema_test_error"):
    """The three paired differences that locate the collapse: supervised-only at COLLAPSE − its base
    (does it collapse without a consistency cost?), Mean Teacher − supervised-only at COLLAPSE (does
    the consistency cost make it worse there?), and the same at the base (the usual gain)."""
    mt_base, mt_c, sup_base, sup_c = arms.values()
    names = list(arms)
    return [stats.compare(sup_c, sup_base, names[3], "its base", metric),
            stats.compare(mt_c, sup_c, names[1], "supervised-only there", metric),
            stats.compare(mt_base, sup_base, names[0], "supervised-only there", metric)]
