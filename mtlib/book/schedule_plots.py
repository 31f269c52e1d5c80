"""Every schedule of a run, read from mtlib's own functions and drawn (chapter "The data, the noise
and the schedules").

:func:`schedule_values` asks ``mtlib.training.schedules`` (``schedule``, ``consistency_weight``,
``ema_decay``) for the learning rate, Adam's beta1 and beta2, the consistency weight w(t) and the
EMA decay at chosen steps; :func:`plot_schedules` draws them for several configs, one row each;
:func:`key_steps` and :func:`values_at` give the numbers at the steps where a schedule changes.
"""
import matplotlib.pyplot as plt

from mtlib.training.schedules import consistency_weight, ema_decay, schedule

QUANTITIES = ("lr", "beta1", "beta2", "weight", "ema_decay")


def values_at(cfg, step):
    """The hyperparameters in force at ``step`` (0-based) of a run with config ``cfg``: a dict with
    the learning rate, Adam's betas (None for SGD), the consistency weight and the EMA decay."""
    hyper = schedule(cfg, step)
    beta1, beta2 = hyper.get("betas", (None, None))
    return {"step": step, "lr": hyper["lr"], "beta1": beta1, "beta2": beta2,
            "weight": consistency_weight(cfg, step),
            "ema_decay": ema_decay(step, cfg.ema_schedule, cfg.ema_decay, cfg.rampup_steps, cfg.ema_decay_rampup)}


def key_steps(cfg):
    """The steps where something happens: the start, half-way and end of the ramp-up, the start of
    the ramp-down and the last step (sorted, unique, inside the run)."""
    up, down, last = cfg.rampup_steps, cfg.rampdown_steps, cfg.steps - 1
    steps = {0, up // 2, up, last}
    if down:
        steps.add(cfg.steps - down)
    return sorted(s for s in steps if 0 <= s <= last)


def sample_steps(cfg, points=800):
    """About ``points`` evenly spread steps of the run plus the steps either side of every key step,
    so that a switch (beta2, the EMA decay) is drawn as the step it is."""
    last = cfg.steps - 1
    stride = max(1, last // points)
    steps = set(range(0, cfg.steps, stride)) | {last}
    for s in key_steps(cfg):
        steps |= {s - 1, s}
    return sorted(s for s in steps if 0 <= s <= last)


def schedule_values(cfg, steps=None):
    """{quantity: [value at each step]} plus "step", for ``steps`` (default :func:`sample_steps`)."""
    steps = sample_steps(cfg) if steps is None else list(steps)
    rows = [values_at(cfg, s) for s in steps]
    return {k: [r[k] for r in rows] for k in ("step",) + QUANTITIES}


PANELS = (("learning rate", "lr"), ("Adam β₁", "beta1"), ("Adam β₂", "beta2"),
          ("consistency weight w(t)", "weight"), ("EMA decay α", "ema_decay"))


def plot_schedules(configs, title=None):
    """One row per ``configs`` entry ({row name: RunConfig}), one column per panel of ``PANELS``;
    the x-axis is the training step of that row's run, dotted lines mark the end of the ramp-up
    and the start of the ramp-down. Panels of Adam's betas say so when the run uses SGD.
    Returns the figure."""
    fig, axes = plt.subplots(len(configs), len(PANELS), figsize=(13, 2.1 * len(configs) + 0.5), squeeze=False)
    for r, (name, cfg) in enumerate(configs.items()):
        values = schedule_values(cfg)
        for c, (panel, key) in enumerate(PANELS):
            ax = axes[r][c]
            if r == 0:
                ax.set_title(panel, fontsize=9)
            if values[key][0] is None:
                ax.text(0.5, 0.5, f"{cfg.optimizer.upper()}:\nno β schedule", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8)
                ax.set_xticks([]), ax.set_yticks([])
                continue
            ax.plot(values["step"], values[key], lw=1.6)
            if key in ("beta2", "ema_decay"):      # values close to 1: zoom so that a switch shows
                low = min(values[key])
                ax.set_ylim(low - 0.1 * (1.0 - low) - 1e-4, 1.0)
            for s in (cfg.rampup_steps, cfg.steps - cfg.rampdown_steps if cfg.rampdown_steps else None):
                if s and s < cfg.steps:
                    ax.axvline(s, color="grey", ls=":", lw=0.8)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            ax.xaxis.get_offset_text().set_fontsize(7)
            if r == len(configs) - 1:
                ax.set_xlabel("training step", fontsize=8)
        axes[r][0].set_ylabel(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def preset_config(preset, n_labels, method="mean_teacher"):
    """The RunConfig of one paper-scale preset run (seed 0), e.g. ``preset_config(TABLE2_CIFAR10, 4000)``."""
    from mtlib.config import RunConfig
    run = next(preset.runs(seeds=[0], labels=[n_labels], methods=[method]))
    return RunConfig(**run.config)
