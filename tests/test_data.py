"""Data layer: datasets, splits, batch schemes, noise, normalisation, prepare_data."""
import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mtlib.data.batches import MaskedBatches, TwoStreamBatches
from mtlib.data.splits import NO_LABEL, masked_labels
from mtlib.data import prepare_data
from mtlib.data.datasets import (CIFAR10_CLASSES, DataNotFoundError, ImageSet, cache_dir, data_root,
                            load_dataset)
from mtlib.data.noise import Augment, gaussian_noise, hflip, shift, translate
from mtlib.data.normalize import ZCA, global_contrast_normalize, make_normalizer, per_image_standardize
from mtlib.data.splits import label_split, validation_split


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------ splits
def test_label_split_balanced_disjoint_covering():
    labels = torch.arange(1000) % 10
    lab, unl = label_split(labels, 105, seed=0)
    assert lab.numel() == 105 and unl.numel() == 895
    assert labels[lab].bincount().tolist() == [11] * 5 + [10] * 5   # remainder on first classes
    assert torch.cat([lab, unl]).sort().values.equal(torch.arange(1000))
    assert lab.dtype == torch.int64


def test_label_split_seeded():
    labels = torch.arange(5000) % 10
    a, _ = label_split(labels, 100, seed=3)
    b, _ = label_split(labels, 100, seed=3)
    c, _ = label_split(labels, 100, seed=4)
    assert a.equal(b)
    assert not a.equal(c)


def test_label_split_all_labels_and_errors():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    lab, unl = label_split(labels, 6, seed=0)
    assert lab.tolist() == list(range(6)) and unl.numel() == 0
    with pytest.raises(ValueError, match="n_labels=7 is more labels than images"):
        label_split(labels, 7, seed=0)
    with pytest.raises(ValueError, match="n_labels=2 is fewer than the 3 classes"):
        label_split(labels, 2, seed=0)
    with pytest.raises(ValueError, match="n_labels=6 needs 2 labeled images of class 2"):
        label_split(torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2]), 6, seed=0)
    with pytest.raises(ValueError, match="num_classes=2"):
        label_split(labels, 3, seed=0, num_classes=2)


def test_validation_split():
    labels = torch.arange(100) % 10
    tr, va = validation_split(labels, 25, seed=1)
    assert tr.numel() == 75 and va.numel() == 25
    assert torch.cat([tr, va]).sort().values.equal(torch.arange(100))
    assert va.equal(validation_split(labels, 25, seed=1)[1])
    assert not va.equal(validation_split(labels, 25, seed=2)[1])
    tr, va = validation_split(labels, 0, seed=1)
    assert tr.equal(torch.arange(100)) and va.numel() == 0
    for bad in (-1, 100):
        with pytest.raises(ValueError, match=f"n_val={bad}"):
            validation_split(labels, bad, seed=0)


# ----------------------------------------------------------------------------------- batches
def test_two_stream_batches():
    lab, unl = torch.arange(10), torch.arange(10, 90)
    b = TwoStreamBatches(lab, unl, batch_size=10, labeled_per_batch=2, generator=gen())
    batches = [next(b) for _ in range(10)]
    assert all(x.shape == (10,) and x.dtype == torch.int64 for x in batches)
    assert all(set(x[:2].tolist()) <= set(range(10)) for x in batches)
    assert all(set(x[2:].tolist()) <= set(range(10, 90)) for x in batches)
    # ten batches of 8 unlabeled = exactly one pass over the 80 unlabeled images
    assert torch.cat([x[2:] for x in batches]).sort().values.equal(unl)
    assert b.epoch == 1.0
    # five batches of 2 labeled = one pass over the 10 labeled images
    assert torch.cat([x[:2] for x in batches[:5]]).sort().values.equal(lab)
    assert torch.cat([x[:2] for x in batches[5:]]).sort().values.equal(lab)
    # reshuffled between passes
    assert not torch.cat([x[:2] for x in batches[:5]]).equal(torch.cat([x[:2] for x in batches[5:]]))


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_batches_resume_exactly():
    b = TwoStreamBatches(torch.arange(7), torch.arange(7, 50), 9, 3, gen(5))
    for _ in range(4):
        next(b)
    state = _roundtrip(b.state_dict())
    expected = [next(b) for _ in range(12)]
    c = TwoStreamBatches(torch.arange(7), torch.arange(7, 50), 9, 3, gen(99))
    c.load_state_dict(state)
    assert all(x.equal(y) for x, y in zip(expected, [next(c) for _ in range(12)]))
    assert c.epoch == b.epoch

    m = MaskedBatches(53, 10, gen(1))
    for _ in range(7):
        next(m)
    state = _roundtrip(m.state_dict())
    expected = [next(m) for _ in range(9)]
    m2 = MaskedBatches(53, 10, gen(2))
    m2.load_state_dict(state)
    assert all(x.equal(y) for x, y in zip(expected, [next(m2) for _ in range(9)]))


def test_masked_batches_epochs():
    m = MaskedBatches(50, 10, gen(0))
    first = torch.cat([next(m) for _ in range(5)])
    assert first.sort().values.equal(torch.arange(50))
    assert m.epoch == 1.0 and m.batches_per_epoch == 5
    second = torch.cat([next(m) for _ in range(5)])
    assert second.sort().values.equal(torch.arange(50)) and not second.equal(first)
    m1, m2 = MaskedBatches(50, 10, gen(7)), MaskedBatches(50, 10, gen(7))
    assert next(m1).equal(next(m2))


def test_masked_labels():
    labels = torch.tensor([3, 1, 4, 1, 5])
    out = masked_labels(labels, torch.tensor([1, 4]))
    assert out.tolist() == [NO_LABEL, 1, NO_LABEL, NO_LABEL, 5]
    assert labels.tolist() == [3, 1, 4, 1, 5]      # a copy


def test_batches_errors():
    lab, unl = torch.arange(3), torch.arange(3, 10)
    with pytest.raises(ValueError, match="labeled_per_batch=11 is more than batch_size=10"):
        TwoStreamBatches(lab, unl, 10, 11, gen())
    with pytest.raises(ValueError, match="labeled_per_batch=0"):
        TwoStreamBatches(lab, unl, 10, 0, gen())
    with pytest.raises(ValueError, match="batch_size=0"):
        TwoStreamBatches(lab, unl, 0, 0, gen())
    with pytest.raises(ValueError, match="unlabeled_idx is empty"):
        TwoStreamBatches(lab, unl[:0], 10, 1, gen())
    with pytest.raises(ValueError, match="batch_size=0"):
        MaskedBatches(10, 0, gen())
    with pytest.raises(ValueError, match="n_images=0"):
        MaskedBatches(0, 10, gen())
    # all labels: only labeled slots
    b = TwoStreamBatches(lab, unl[:0], 2, 2, gen())
    assert next(b).shape == (2,)


# ------------------------------------------------------------------------------------- noise
def test_shift_known_pixels():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = shift(x, torch.tensor([1]), torch.tensor([-2]), max_shift=2)
    # out[i, j] = reflect(x)[i - 1, j + 2]: rows x[1], x[0], x[1], x[2]; cols 2, 3, 2, 1
    assert out[0, 0].tolist() == [[6, 7, 6, 5], [2, 3, 2, 1], [6, 7, 6, 5], [10, 11, 10, 9]]
    assert shift(x, torch.tensor([0]), torch.tensor([0]), 2).equal(x)


def test_translate_draws_valid_shifts():
    x = torch.rand(1, 3, 8, 8).expand(200, 3, 8, 8).contiguous()
    out = translate(x, 2, gen(0))
    assert out.shape == x.shape
    shifts_seen, images_matched = set(), torch.zeros(200, dtype=torch.bool)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            hit = (out == shift(x, torch.full((200,), dy), torch.full((200,), dx), 2)).flatten(1).all(1)
            images_matched |= hit
            if hit.any():
                shifts_seen.add((dy, dx))
    assert len(shifts_seen) == 25          # every shift in [-2, 2]^2 occurs
    assert images_matched.all()            # every image is one of them
    assert translate(x, 0, gen(0)) is x
    assert translate(x, 2, gen(3)).equal(translate(x, 2, gen(3)))


def test_hflip_and_gaussian():
    x = torch.rand(400, 1, 2, 3)
    assert hflip(x, gen(), p=1.0).equal(x.flip(-1))
    assert hflip(x, gen(), p=0.0).equal(x)
    out = hflip(x, gen(1))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert ((out == x).flatten(1).all(1) | flipped).all()
    assert 0.4 < flipped.float().mean() < 0.6
    z = torch.zeros(64, 3, 32, 32)
    assert gaussian_noise(z, 0, gen()) is z
    n = gaussian_noise(z, 0.15, gen(2))
    assert abs(n.std().item() - 0.15) < 0.002 and abs(n.mean().item()) < 0.002


def test_augment():
    x = torch.rand(16, 3, 32, 32)
    aug = Augment(translate=2, flip=True, input_noise=0.15)
    g = gen(0)
    student, teacher = aug(x, g), aug(x, g)
    assert student.shape == x.shape and not student.equal(teacher)   # independent draws
    assert aug(x, gen(4)).equal(aug(x, gen(4)))
    assert Augment(0, False, 0.0)(x, gen()).equal(x)
    for kw, name in (({"translate": -1}, "translate"), ({"input_noise": -0.1}, "input_noise"),
                     ({"translate": 1.5}, "translate"), ({"flip": 1}, "flip")):
        with pytest.raises(ValueError, match=name):
            Augment(**kw)
    with pytest.raises(ValueError, match="max_shift=40"):
        translate(x, 40, gen())
    with pytest.raises(ValueError, match="sigma"):
        gaussian_noise(x, -1, gen())


# ----------------------------------------------------------------------------- normalisation
def test_per_image_standardize():
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    out = per_image_standardize(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    flat = out.flatten(1)
    assert torch.allclose(flat.mean(1), torch.zeros(6), atol=1e-5)
    assert torch.allclose(flat.std(1, unbiased=False), torch.ones(6), atol=1e-4)
    const = torch.full((1, 3, 32, 32), 7, dtype=torch.uint8)
    assert per_image_standardize(const).abs().max() == 0


def test_gcn_and_zca_whitening():
    g = gen(0)
    mix = torch.randn(48, 48, generator=g, dtype=torch.float64)
    raw = torch.randn(3000, 48, generator=g, dtype=torch.float64) @ mix
    x = (raw / raw.abs().max() * 100 + 128).round().clamp(0, 255).to(torch.uint8).view(-1, 3, 4, 4)
    gcn = global_contrast_normalize(x)
    assert torch.allclose(gcn.norm(dim=1), torch.full((3000,), 55.0), rtol=1e-4)
    zca = ZCA(bias=0.1).fit(x)
    z = zca.transform(x).double().flatten(1)
    assert z.shape == (3000, 48)
    assert torch.allclose(z.mean(0), torch.zeros(48, dtype=torch.float64), atol=1e-3)
    # independent float64 reference: cov(whitened) = U diag(S / (S + 0.1)) U^T
    ref = gcn.double() - gcn.double().mean(0)
    s, u = torch.linalg.eigh(ref.T @ ref / 3000)
    cov_z = z.T @ z / 3000
    assert torch.allclose(cov_z, (u * (s / (s + 0.1))) @ u.T, atol=2e-3)
    big = s.argmax()
    assert abs(u[:, big] @ cov_z @ u[:, big] - s[big] / (s[big] + 0.1)) < 1e-3
    clone = ZCA()
    clone.load_state_dict(_roundtrip(zca.state_dict()))
    assert clone.transform(x[:5]).equal(zca.transform(x[:5]))


def test_zca_fewer_images_than_dimensions():
    x = torch.randint(0, 256, (30, 3, 4, 4), dtype=torch.uint8, generator=gen(1))   # 30 < 48
    zca = ZCA(bias=0.1).fit(x)
    ref = global_contrast_normalize(x).double()
    ref = ref - ref.mean(0)
    s, u = torch.linalg.eigh(ref.T @ ref / 30)
    w = (u / torch.sqrt(s.clamp_min(0) + 0.1)) @ u.T          # the textbook formula, on 48 x 48
    assert torch.allclose(zca.matrix.double(), w, atol=1e-4)
    assert torch.allclose(zca.eigenvalues.double(), s.clamp_min(0), atol=1e-4)


def test_make_normalizer():
    x = torch.randint(0, 256, (20, 3, 4, 4), dtype=torch.uint8)
    assert make_normalizer("none", x)(x).equal(x.float() / 255 - 0.5)
    ms = make_normalizer("meanstd", x)(x)
    assert torch.allclose(ms.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(ms.std((0, 2, 3)), torch.ones(3), atol=1e-4)
    assert make_normalizer("per_image", x)(x).equal(per_image_standardize(x))
    with pytest.raises(ValueError, match="normalization='pca'"):
        make_normalizer("pca", x)


# ---------------------------------------------------------------------------------- datasets
def test_roots_and_imageset(monkeypatch, tmp_path):
    monkeypatch.setenv("MTLIB_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("MTLIB_CACHE", str(tmp_path / "c"))
    assert data_root() == tmp_path / "d" and data_root("/x") == Path("/x")
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MTLIB_DATA")
    monkeypatch.delenv("MTLIB_CACHE")
    assert data_root() == Path.home() / ".cache/mtlib/data" and cache_dir() == Path.home() / ".cache/mtlib"
    s = ImageSet(torch.zeros(5, 3, 32, 32, dtype=torch.uint8), torch.arange(5), ["a"] * 5)
    assert len(s) == 5 and s.subset(torch.tensor([4, 1])).labels.tolist() == [4, 1]
    with pytest.raises(ValueError, match="dataset='mnist'.*cifar10, svhn, imagefolder"):
        load_dataset("mnist")


def _write_svhn(folder, split, n, rng):
    from scipy.io import savemat
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)        # 1..10, 10 = digit 0
    savemat(str(folder / f"{split}_32x32.mat"), {"X": x, "y": y})
    return x, y


def test_svhn_mat_files(tmp_path, tmp_cache):
    rng = np.random.default_rng(0)
    x, y = _write_svhn(tmp_path, "train", 30, rng)
    _write_svhn(tmp_path, "test", 12, rng)
    tr = load_dataset("svhn", train=True, root=tmp_path)
    te = load_dataset("svhn", train=False, root=tmp_path)
    assert tr.images.shape == (30, 3, 32, 32) and te.images.shape == (12, 3, 32, 32)
    assert tr.labels[y[:, 0] == 10].tolist() == [0, 0, 0]           # label 10 became 0
    assert tr.labels.tolist() == [(v % 10) for v in y[:, 0].tolist()]
    assert tr.images[7].equal(torch.from_numpy(x[:, :, :, 7]).permute(2, 0, 1))
    assert tr.classes == [str(d) for d in range(10)]
    # same as torchvision's own reader (its md5 check bypassed for these small files)
    from torchvision.datasets import SVHN
    orig = SVHN._check_integrity
    SVHN._check_integrity = lambda self: True
    try:
        tv = SVHN(str(tmp_path), split="train")
    finally:
        SVHN._check_integrity = orig
    assert tr.images.equal(torch.from_numpy(tv.data)) and tr.labels.tolist() == tv.labels.tolist()


def test_svhn_extra_split(tmp_path, tmp_cache):
    rng = np.random.default_rng(1)
    x, y = _write_svhn(tmp_path, "extra", 25, rng)
    ex = load_dataset("svhn", split="extra", root=tmp_path)
    assert ex.images.shape == (25, 3, 32, 32) and ex.images.dtype == torch.uint8
    assert ex.labels.tolist() == [(v % 10) for v in y[:, 0].tolist()]      # 10 became 0
    assert ex.labels[y[:, 0] == 10].tolist() == [0, 0]
    assert ex.images[3].equal(torch.from_numpy(x[:, :, :, 3]).permute(2, 0, 1))
    assert ex.classes == [str(d) for d in range(10)]
    # also found under root/svhn, and split= wins over train=
    (tmp_path / "sub" / "svhn").mkdir(parents=True)
    (tmp_path / "extra_32x32.mat").rename(tmp_path / "sub" / "svhn" / "extra_32x32.mat")
    assert load_dataset("svhn", train=False, split="extra", root=tmp_path / "sub").images.equal(ex.images)
    for name in ("cifar10", "imagefolder"):
        with pytest.raises(ValueError, match=f"split='extra'.*dataset='{name}'"):
            load_dataset(name, split="extra", root=tmp_path)
    with pytest.raises(ValueError, match="split='valid'.*train, test, extra"):
        load_dataset("svhn", split="valid", root=tmp_path)


def test_missing_data_errors(tmp_path, tmp_cache):
    for name in ("cifar10", "svhn"):
        with pytest.raises(DataNotFoundError, match=rf"root='{tmp_path}'.*download=True.*MTLIB_DATA"):
            load_dataset(name, root=tmp_path)
    with pytest.raises(DataNotFoundError,
                       match=rf"svhn extra split.*root='{tmp_path}'.*download=True.*MTLIB_DATA.*extra_32x32.mat"):
        load_dataset("svhn", split="extra", root=tmp_path)
    with pytest.raises(ValueError, match="root=.*has no train/ folder"):
        load_dataset("imagefolder", root=tmp_path)


def _write_folder(root, classes, n, size=32, ext="png", seed=0):
    rng = np.random.default_rng(seed)
    pixels = {}
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(a).save(root / split / c / f"{i:04d}.{ext}")
                pixels[(split, c, i)] = a
    return pixels


def test_imagefolder_tiny(tmp_path, tmp_cache):
    px = _write_folder(tmp_path, ["b", "a", "c"], 4)
    Image.fromarray(px[("train", "a", 0)]).save(tmp_path / "train" / "a" / "0009.jpg", quality=90)
    tr = load_dataset("imagefolder", root=tmp_path)
    assert tr.classes == ["a", "b", "c"] and tr.labels.tolist() == [0] * 5 + [1] * 4 + [2] * 4
    assert tr.images[0].equal(torch.from_numpy(px[("train", "a", 0)]).permute(2, 0, 1))   # PNG exact
    jpeg = np.asarray(Image.open(tmp_path / "train" / "a" / "0009.jpg").convert("RGB"))
    assert tr.images[4].equal(torch.from_numpy(jpeg.copy()).permute(2, 0, 1))           # = PIL decode
    assert len(load_dataset("imagefolder", train=False, root=tmp_path)) == 12
    assert len(list(tmp_cache.glob("imagefolder-train-*.pt"))) == 1
    assert load_dataset("imagefolder", root=tmp_path).images.equal(tr.images)        # from cache


def test_imagefolder_errors(tmp_path, tmp_cache):
    _write_folder(tmp_path / "small", ["a", "b"], 1, size=16)
    with pytest.raises(ValueError, match="16x16.*32x32"):
        load_dataset("imagefolder", root=tmp_path / "small")
    (tmp_path / "flat" / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match="no class subfolders"):
        load_dataset("imagefolder", root=tmp_path / "flat")
    (tmp_path / "empty" / "train" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no images"):
        load_dataset("imagefolder", root=tmp_path / "empty")
    _write_folder(tmp_path / "notcifar" / "cifar10-jpeg", ["x", "y"], 1)
    with pytest.raises(ValueError, match="not CIFAR-10's"):
        load_dataset("cifar10", root=tmp_path / "notcifar")


# ------------------------------------------------------------------------------ prepare_data
def test_prepare_data_tiny(tmp_path, tmp_cache):
    _write_folder(tmp_path, ["a", "b", "c", "d"], 12)
    d = prepare_data("imagefolder", n_labels=6, seed=1, root=tmp_path, n_val=4,
                     normalization="meanstd", classes=["d", "b", "c"], max_train=30)
    assert d.classes == ["b", "c", "d"] and d.num_classes == 3
    assert d.train_x.shape == (26, 3, 32, 32) and d.train_x.dtype == torch.float32
    assert d.val_x.shape == (4, 3, 32, 32) and d.val_y.shape == (4,)
    assert d.test_x.shape == (36, 3, 32, 32) and sorted(set(d.test_y.tolist())) == [0, 1, 2]
    assert d.labeled_idx.numel() == 6 and d.unlabeled_idx.numel() == 20
    assert d.train_labels[d.labeled_idx].bincount().tolist() == [2, 2, 2]
    assert (d.train_y_masked[d.unlabeled_idx] == NO_LABEL).all()
    assert d.train_y_masked[d.labeled_idx].equal(d.train_labels[d.labeled_idx])
    # normaliser fitted on the training images only: their per-channel mean is 0
    assert torch.allclose(d.train_x.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    again = prepare_data("imagefolder", 6, 1, root=tmp_path, n_val=4, normalization="meanstd",
                         classes=["d", "b", "c"], max_train=30)
    assert again.labeled_idx.equal(d.labeled_idx) and again.train_x.equal(d.train_x)
    full = prepare_data("imagefolder", 48, 0, root=tmp_path, normalization="none")
    assert full.unlabeled_idx.numel() == 0 and (full.train_y_masked == full.train_labels).all()


@pytest.mark.parametrize("kw, name", [
    ({"dataset": "mnist"}, "dataset='mnist'"),
    ({"normalization": "pca"}, "normalization='pca'"),
    ({"n_labels": 49}, "n_labels=49"),
    ({"n_labels": 3}, "n_labels=3"),
    ({"n_val": 48}, "n_val=48"),
    ({"max_train": 2}, "max_train=2"),
    ({"max_train": 49}, "max_train=49"),
    ({"classes": ["a", "zebra"]}, "classes=.*zebra"),
    ({"classes": ["a"]}, "at least 2"),
    ({"classes": "a"}, "classes='a'"),
])
def test_prepare_data_errors(tmp_path, tmp_cache, kw, name):
    _write_folder(tmp_path, ["a", "b", "c", "d"], 12)
    args = {"dataset": "imagefolder", "n_labels": 8, "seed": 0, "root": tmp_path,
            "normalization": "none", **kw}
    with pytest.raises(ValueError, match=name):
        prepare_data(**args)


def _svhn_root(tmp_path, n_train=40, n_test=10, n_extra=30):
    rng = np.random.default_rng(3)
    _write_svhn(tmp_path, "train", n_train, rng)
    _write_svhn(tmp_path, "test", n_test, rng)
    if n_extra:
        _write_svhn(tmp_path, "extra", n_extra, rng)
    return tmp_path


def _extra_positions(d, extra, k):
    """Where in the extra split each of the last k training images of ``d`` (normalization
    'none', so exactly invertible) came from."""
    raw = ((d.train_x[-k:] + 0.5) * 255).round().to(torch.uint8)
    hits = [(extra.images == img).flatten(1).all(1).nonzero().flatten() for img in raw]
    assert all(h.numel() == 1 for h in hits)
    return torch.cat(hits)


def test_prepare_data_svhn_extra(tmp_path, tmp_cache):
    root = _svhn_root(tmp_path)
    kw = dict(dataset="svhn", n_labels=10, root=root, n_val=5, normalization="none")
    base = prepare_data(seed=0, **kw)
    d = prepare_data(seed=0, n_extra_unlabeled=12, **kw)
    assert len(base.train_x) == 35 and d.train_x.shape == (35 + 12, 3, 32, 32)
    extra_idx = torch.arange(35, 47)
    assert d.labeled_idx.equal(base.labeled_idx)                       # label split unchanged
    assert d.unlabeled_idx.equal(torch.cat([base.unlabeled_idx, extra_idx]))
    assert not torch.isin(extra_idx, d.labeled_idx).any()
    assert (d.train_y_masked[extra_idx] == NO_LABEL).all()
    assert d.train_y_masked[:35].equal(base.train_y_masked)
    assert d.train_x[:35].equal(base.train_x) and d.train_labels[:35].equal(base.train_labels)
    assert d.val_x.equal(base.val_x) and d.val_y.equal(base.val_y) and d.test_y.equal(base.test_y)
    # 12 distinct images of the extra split, their true labels kept for diagnostics
    ex = load_dataset("svhn", split="extra", root=root)
    picked = _extra_positions(d, ex, 12)
    assert picked.unique().numel() == 12
    assert d.train_labels[extra_idx].equal(ex.labels[picked])
    # seeded: same seed, same extra subset; another seed, another
    again = prepare_data(seed=0, n_extra_unlabeled=12, **kw)
    assert again.train_x.equal(d.train_x) and again.train_labels.equal(d.train_labels)
    other = prepare_data(seed=1, n_extra_unlabeled=12, **kw)
    assert not _extra_positions(other, ex, 12).equal(picked)
    # normaliser fitted on regular + extra training images (never val/test)
    m = prepare_data(seed=0, n_extra_unlabeled=12, **{**kw, "normalization": "meanstd"})
    assert torch.allclose(m.train_x.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert not torch.allclose(m.train_x[:35].mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    # all of the extra split is allowed, one more is not
    assert len(prepare_data(seed=0, n_extra_unlabeled=30, **kw).train_x) == 65
    with pytest.raises(ValueError, match="n_extra_unlabeled=31 is more than the 30 images"):
        prepare_data(seed=0, n_extra_unlabeled=31, **kw)
    # classes= and image_size= apply to the extra images too (30 extra images: 3 of each digit)
    c = prepare_data(seed=0, n_extra_unlabeled=6, classes=["0", "1"], image_size=16,
                     **{**kw, "n_labels": 4, "n_val": 0})
    assert c.train_x.shape == (8 + 6, 3, 16, 16) and set(c.train_labels[8:].tolist()) == {0, 1}
    with pytest.raises(ValueError, match=r"n_extra_unlabeled=7 is more than the 6 images of classes \['0', '1'\]"):
        prepare_data(seed=0, n_extra_unlabeled=7, classes=["0", "1"], **{**kw, "n_labels": 4, "n_val": 0})


def test_prepare_data_svhn_extra_zero_and_errors(tmp_path, tmp_cache):
    root = _svhn_root(tmp_path, n_extra=0)
    kw = dict(dataset="svhn", n_labels=10, seed=2, root=root, normalization="meanstd")
    a = prepare_data(**kw)                       # no extra file needed with n_extra_unlabeled=0
    b = prepare_data(n_extra_unlabeled=0, **kw)
    assert a.train_x.equal(b.train_x) and a.labeled_idx.equal(b.labeled_idx)
    assert a.unlabeled_idx.equal(b.unlabeled_idx)
    with pytest.raises(DataNotFoundError, match=r"svhn extra split.*download=True.*extra_32x32.mat"):
        prepare_data(n_extra_unlabeled=5, **kw)
    with pytest.raises(ValueError, match="n_extra_unlabeled=-1"):
        prepare_data(n_extra_unlabeled=-1, **kw)
    _write_folder(tmp_path / "f", ["a", "b"], 4)
    with pytest.raises(ValueError, match="n_extra_unlabeled=3 needs dataset='svhn'"):
        prepare_data("imagefolder", 4, 0, root=tmp_path / "f", normalization="none",
                     n_extra_unlabeled=3)


def test_load_data_passes_n_extra_unlabeled(tmp_path, tmp_cache):
    from mtlib.config import RunConfig
    from mtlib.data.prepare import load_data
    root = _svhn_root(tmp_path)
    cfg = RunConfig(dataset="svhn", data_root=str(root), n_labels=10, normalization="meanstd",
                    n_extra_unlabeled=7)
    d = load_data(cfg)
    assert len(d.train_x) == 47 and d.unlabeled_idx.numel() == 37


# ---------------------------------------------------------------------- real CIFAR-10 (JPEG)
def test_cifar10_jpeg_copy(cifar_root):
    t = time.time()
    train = load_dataset("cifar10", train=True, root=cifar_root)
    first = time.time() - t
    test = load_dataset("cifar10", train=False, root=cifar_root)
    assert train.images.shape == (50000, 3, 32, 32) and test.images.shape == (10000, 3, 32, 32)
    assert train.labels.bincount().tolist() == [5000] * 10
    assert test.labels.bincount().tolist() == [1000] * 10
    assert train.classes == CIFAR10_CLASSES == test.classes
    mean = train.images.float().mean((0, 2, 3)) / 255      # README: 0.4913, 0.4821, 0.4465
    assert torch.allclose(mean, torch.tensor([0.4913, 0.4821, 0.4465]), atol=2e-4)
    assert list(cache_dir().glob("cifar10-train-*.pt"))
    t = time.time()
    again = load_dataset("cifar10", train=True, root=cifar_root)
    cached = time.time() - t
    print(f"CIFAR-10 train load: first {first:.2f} s, cached {cached:.2f} s")
    assert cached < 5 and again.images.equal(train.images)


def test_prepare_data_cifar_zca(cifar_root):
    d = prepare_data("cifar10", n_labels=20, seed=0, root=cifar_root, classes=["cat", "dog"],
                     max_train=400, normalization="zca")
    assert d.classes == ["cat", "dog"] and d.train_x.shape == (400, 3, 32, 32)
    assert d.test_x.shape == (2000, 3, 32, 32) and d.test_y.bincount().tolist() == [1000, 1000]
    assert d.train_labels[d.labeled_idx].bincount().tolist() == [10, 10]
    assert torch.isfinite(d.train_x).all() and abs(d.train_x.mean().item()) < 1e-3
