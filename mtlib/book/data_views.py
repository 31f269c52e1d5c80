"""Pictures of the data for the chapter "The data, the noise and the schedules".

What a run trains on (:func:`class_grid`), what ZCA whitening does to an image (:func:`plot_zca`)
and the two noisy views of one image, stage by stage (:func:`noise_stages`, :func:`plot_noise`).
Everything comes from mtlib's own loader and noise functions; nothing here re-implements them.
"""
import matplotlib.pyplot as plt
import torch

from mtlib.data import load_data
from mtlib.data.noise import gaussian_noise, hflip, translate


def load_views(cfg):
    """(raw, data) for one RunConfig: the same training images, in the same order and split, as
    pixel values in [0, 1] (``raw``, the loader with ``normalization="none"`` plus 0.5) and as the
    network gets them (``data``, the config's own normalisation)."""
    data = load_data(cfg)
    plain = load_data(cfg.replace(normalization="none"))
    if not torch.equal(plain.train_labels, data.train_labels) or not torch.equal(plain.labeled_idx, data.labeled_idx):
        raise RuntimeError("the two loads chose different images; the loader's selection should not depend on normalisation")
    return (plain.train_x + 0.5).clamp(0, 1), data


def to_rgb(image, lo=None, hi=None):
    """(C, H, W) tensor -> (H, W, C) array in [0, 1] for imshow, scaled from [lo, hi]
    (default: the image's own minimum and maximum) and clipped."""
    lo = float(image.min()) if lo is None else lo
    hi = float(image.max()) if hi is None else hi
    return ((image - lo) / max(hi - lo, 1e-12)).clamp(0, 1).permute(1, 2, 0).numpy()


def pick(labels, index, per_class, classes):
    """``per_class`` positions from ``index`` for each class (in order), as rows: list of lists."""
    labels = torch.as_tensor(labels)
    rows = []
    for c in range(len(classes)):
        of_class = [int(i) for i in index if int(labels[i]) == c][:per_class]
        if len(of_class) < per_class:
            raise ValueError(f"class {classes[c]!r} has {len(of_class)} images here; asked for {per_class}")
        rows.append(of_class)
    return rows


def class_grid(images, rows, row_names, title=None, size=0.55):
    """One row of images per class, the class name on the left. ``images``: (N, C, H, W) in [0, 1];
    ``rows``: lists of positions (see :func:`pick`). Returns the figure."""
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols + 1.0, size * len(rows) + 0.4), squeeze=False)
    for r, (positions, name) in enumerate(zip(rows, row_names)):
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(positions):
                ax.imshow(to_rgb(images[positions[c]], 0.0, 1.0), interpolation="nearest")
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.05, left=0.12, top=0.9 if title else 0.98)
    return fig


def plot_zca(raw, normalised, positions, names, title=None):
    """Each image before (top: pixels in [0, 1]) and after (bottom) the normalisation, the bottom row
    scaled per image from its minimum to its maximum. Returns the figure."""
    fig, axes = plt.subplots(2, len(positions), figsize=(1.3 * len(positions), 3.0), squeeze=False)
    for c, i in enumerate(positions):
        axes[0][c].imshow(to_rgb(raw[i], 0.0, 1.0), interpolation="nearest")
        axes[1][c].imshow(to_rgb(normalised[i]), interpolation="nearest")
        axes[0][c].set_title(names[c], fontsize=8)
    for ax in (a for row in axes for a in row):
        ax.set_xticks([]), ax.set_yticks([])
    axes[0][0].set_ylabel("before", fontsize=8)
    axes[1][0].set_ylabel("after ZCA", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


NOISE_STAGES = ("clean", "translated", "flipped", "Gaussian noise")


def noise_stages(image, max_shift, flip, sigma, generator):
    """One image's way through mtlib's input noise, drawn from ``generator`` as
    ``mtlib.data.noise.Augment`` draws it: translation, then (if ``flip``) the flip, then Gaussian
    noise. Returns a dict stage name -> (C, H, W) tensor; its last entry is the noisy view."""
    x = image.unsqueeze(0)
    stages = {"clean": x}
    x = translate(x, max_shift, generator)
    stages["translated"] = x
    if flip:
        x = hflip(x, generator)
        stages["flipped"] = x
    stages["Gaussian noise"] = gaussian_noise(x, sigma, generator)
    return {k: v[0] for k, v in stages.items()}


def plot_noise(views, pixels=None, title=None):
    """``views``: {row name: output of :func:`noise_stages`}; one row per view, one column per stage,
    all on the display scale of the first clean image (so the noise shows as it is). ``pixels``: the
    image as pixels in [0, 1], drawn in a first column of the first row for reference. Returns the figure."""
    first = next(iter(views.values()))["clean"]
    lo, hi = float(first.min()), float(first.max())
    shift = 0 if pixels is None else 1
    ncols = max(len(v) for v in views.values()) + shift
    fig, axes = plt.subplots(len(views), ncols, figsize=(1.6 * ncols + 0.8, 1.7 * len(views) + 0.3), squeeze=False)
    if pixels is not None:
        axes[0][0].imshow(to_rgb(pixels, 0.0, 1.0), interpolation="nearest")
        axes[0][0].set_title("pixels", fontsize=8)
        for row in axes[1:]:
            row[0].set_visible(False)
    for r, (name, stages) in enumerate(views.items()):
        for c, (stage, image) in enumerate(stages.items()):
            axes[r][c + shift].imshow(to_rgb(image, lo, hi), interpolation="nearest")
            if r == 0:
                axes[r][c + shift].set_title(stage if stage != "clean" else "whitened", fontsize=8)
        axes[r][shift].set_ylabel(name, fontsize=8)
    for ax in (a for row in axes for a in row):
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
