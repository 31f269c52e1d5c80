"""The data chapter's pictures: noise stages drawn as mtlib's Augment draws them, grids, the loader's two views."""
import matplotlib
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mtlib.book.data_views import (class_grid, load_views, noise_stages, pick, plot_noise,  # noqa: E402
                                   plot_zca, to_rgb)
from mtlib.config import RunConfig  # noqa: E402
from mtlib.data.noise import Augment  # noqa: E402
from mtlib.scales import CPU_SCALE  # noqa: E402


def test_noise_stages_end_in_augments_own_view():
    image = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    for flip in (True, False):
        stages = noise_stages(image, 1, flip, 0.15, torch.Generator().manual_seed(5))
        view = Augment(translate=1, flip=flip, input_noise=0.15)(image[None], torch.Generator().manual_seed(5))[0]
        assert torch.equal(stages["Gaussian noise"], view)
        assert list(stages) == ["clean", "translated"] + (["flipped"] if flip else []) + ["Gaussian noise"]
    stages = noise_stages(image, 1, True, 0.0, torch.Generator().manual_seed(5))
    assert torch.equal(stages["Gaussian noise"], stages["flipped"])     # sigma 0 adds nothing


def test_to_rgb_and_pick():
    rgb = to_rgb(torch.tensor([[[-1.0, 3.0]]]).expand(3, 1, 2))
    assert rgb.shape == (1, 2, 3) and rgb.min() == 0.0 and rgb.max() == 1.0
    assert to_rgb(torch.full((3, 2, 2), 2.0), 0.0, 1.0).max() == 1.0            # clipped
    labels = torch.tensor([0, 1, 0, 1, 0])
    assert pick(labels, range(5), 2, ["a", "b"]) == [[0, 2], [1, 3]]
    with pytest.raises(ValueError, match="'b' has 2"):
        pick(labels, range(5), 3, ["a", "b"])


def test_figures_have_one_axis_per_image():
    images = torch.rand(6, 3, 8, 8)
    fig = class_grid(images, [[0, 1, 2], [3, 4]], ["a", "b"])
    assert len(fig.axes) == 6 and sum(bool(ax.images) for ax in fig.axes) == 5
    fig2 = plot_zca(images, images - 0.5, [0, 1], ["x", "y"])
    assert len(fig2.axes) == 4
    g = torch.Generator().manual_seed(0)
    fig3 = plot_noise({"student": noise_stages(images[0], 1, True, 0.15, g),
                       "teacher": noise_stages(images[0], 1, True, 0.15, g)})
    assert len(fig3.axes) == 8
    fig4 = plot_noise({"student": noise_stages(images[0], 1, False, 0.15, g)}, pixels=images[0])
    assert len(fig4.axes) == 4 and fig4.axes[0].get_title() == "pixels"
    plt.close("all")


def test_load_views_gives_the_same_images_twice(cifar_root):
    cfg = RunConfig(**{**CPU_SCALE, "max_train": 300, "n_labels": 40, "data_root": str(cifar_root)})
    raw, data = load_views(cfg)
    assert raw.shape == data.train_x.shape and 0.0 <= float(raw.min()) and float(raw.max()) <= 1.0
    assert not torch.allclose(raw - 0.5, data.train_x)          # ZCA changed them
