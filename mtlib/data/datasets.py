"""Datasets as in-memory uint8 tensors (CONTRACTS.md: images (N, 3, 32, 32) uint8, labels int64).

Sources, for CIFAR-10 in the order they are looked for under ``root``:
an ImageFolder copy (``cifar10-jpeg/{train,test}/<class>/*.jpg`` or ``{train,test}`` directly),
torchvision's ``cifar-10-batches-py``, the tarball ``cifar10-jpeg.tar.gz`` (read in place, never
extracted into ``root``, which may be read-only), else ``torchvision.datasets.CIFAR10`` with
``download=True``. SVHN reads torchvision's ``train_32x32.mat`` / ``test_32x32.mat`` and, for
``split="extra"`` (its 531,131 extra images, Table 3's unlabeled pool), ``extra_32x32.mat``.
Decoding 60,000 JPEGs takes seconds, so decoded tensors are cached in :func:`cache_dir`.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

DATASETS = ("cifar10", "svhn", "imagefolder")
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
SVHN_CLASSES = [str(d) for d in range(10)]
SPLITS = ("train", "test", "extra")   # "extra" exists for SVHN only
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_JPEG_EXTENSIONS = (".jpg", ".jpeg")
_CACHE_VERSION = "1"
# the layouts under a data root that CIFAR-10 is read from (cifar10_source, in its order)
CIFAR10_FORMATS = "cifar10-jpeg.tar.gz, cifar10-jpeg/{train,test}/ or cifar-10-batches-py/"


class DataNotFoundError(FileNotFoundError, ValueError):
    """The data is not where it was looked for (both a FileNotFoundError and a ValueError)."""


@dataclass
class ImageSet:
    """Images (N, 3, 32, 32) uint8, labels (N,) int64 in 0..len(classes)-1, class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, H, W); got {tuple(self.images.shape)} "
                             f"{self.images.dtype}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},); "
                             f"got {tuple(self.labels.shape)}")
        self.labels = self.labels.long()
        self.classes = list(self.classes)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: torch.Tensor) -> "ImageSet":
        """The images at ``index`` (a LongTensor of positions), same classes."""
        index = torch.as_tensor(index, dtype=torch.long)
        return ImageSet(self.images[index], self.labels[index], list(self.classes))


def data_root(root: Optional[str | os.PathLike] = None) -> Path:
    """``root`` if given, else ``$MTLIB_DATA``, else ``~/.cache/mtlib/data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("MTLIB_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "mtlib" / "data"


def cache_dir() -> Path:
    """``$MTLIB_CACHE`` if set, else ``~/.cache/mtlib`` (decoded-tensor cache)."""
    env = os.environ.get("MTLIB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mtlib"


def load_dataset(name: str, train: bool = True, root=None, download: bool = False, *,
                 split: Optional[str] = None) -> ImageSet:
    """Load a split of ``name`` in {"cifar10", "svhn", "imagefolder"}.

    The split is ``"train"`` or ``"test"`` as ``train`` says, unless ``split`` names one of
    ``"train"``, ``"test"``, ``"extra"`` (it then wins over ``train``); ``"extra"`` is SVHN's
    extra split (``extra_32x32.mat``), which the other datasets do not have.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset={name!r} is not known; choose one of {', '.join(DATASETS)}")
    if split is None:
        split = "train" if train else "test"
    elif split not in SPLITS:
        raise ValueError(f"split={split!r} is not known; choose one of {', '.join(SPLITS)}")
    if split == "extra" and name != "svhn":
        raise ValueError(f"split='extra' is SVHN's extra split; dataset={name!r} has only "
                         "'train' and 'test'")
    root = data_root(root)
    if name == "cifar10":
        return _load_cifar10(root, split == "train", download)
    if name == "svhn":
        return _load_svhn(root, split, download)
    return _load_imagefolder_split(root, split, name="imagefolder")


# ----------------------------------------------------------------------------------------- cache
def _cache_path(name: str, split: str, key: str) -> Path:
    digest = hashlib.sha1(f"{_CACHE_VERSION}|{key}".encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-{split}-{digest}.pt"


def _cache_load(path: Path) -> Optional[ImageSet]:
    if not path.is_file():
        return None
    try:
        d = torch.load(path, weights_only=True)
        return ImageSet(d["images"], d["labels"], list(d["classes"]))
    except Exception as e:  # a broken cache file is rebuilt, never fatal
        warnings.warn(f"ignoring unreadable cache file {path}: {e}")
        return None


def _cache_save(path: Path, data: ImageSet) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"images": data.images, "labels": data.labels, "classes": data.classes}, tmp)
        os.replace(tmp, path)
    except OSError as e:
        warnings.warn(f"could not write the dataset cache {path} ({e}); set MTLIB_CACHE to a "
                      "writable folder to make later loads fast")


# -------------------------------------------------------------------------------------- decoding
def _decode(blobs: Sequence[bytes], names: Sequence[str], sources: str) -> torch.Tensor:
    """Decode encoded images to (N, 3, 32, 32) uint8.

    JPEGs are decoded in batches by ``torchvision.io.decode_jpeg`` (measured: 2x faster than PIL,
    identical pixels); other formats, or all of them if that decoder is gone (torchvision 0.29
    deprecates it), by PIL.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError:
        decode_jpeg = None
    out = torch.empty((len(blobs), 3, 32, 32), dtype=torch.uint8)
    is_jpeg = [decode_jpeg is not None and n.lower().endswith(_JPEG_EXTENSIONS) for n in names]
    jpeg_pos = [i for i, j in enumerate(is_jpeg) if j]
    other_pos = [i for i, j in enumerate(is_jpeg) if not j]

    def put(i, img):
        if tuple(img.shape) != (3, 32, 32):
            raise ValueError(f"{sources}: image {names[i]} is {img.shape[-1]}x{img.shape[-2]} "
                             f"with {img.shape[0]} channels; mtlib needs 32x32 RGB images "
                             "(resize them first)")
        out[i] = img

    chunk = 4096
    for s in range(0, len(jpeg_pos), chunk):
        pos = jpeg_pos[s:s + chunk]
        data = [torch.frombuffer(bytearray(blobs[i]), dtype=torch.uint8) for i in pos]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            decoded = decode_jpeg(data, mode=ImageReadMode.RGB)
        for i, img in zip(pos, decoded):
            put(i, img)
    if other_pos:
        import io

        from PIL import Image
        for i in other_pos:
            with Image.open(io.BytesIO(blobs[i])) as im:
                arr = np.asarray(im.convert("RGB"))
            put(i, torch.from_numpy(arr.copy()).permute(2, 0, 1))
    return out


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMG_EXTENSIONS)


# ---------------------------------------------------------------------------------- imagefolder
def _scan_folder(split_dir: Path):
    """Sorted class names and, per class, sorted image file names; errors if malformed."""
    classes = sorted(e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise ValueError(f"{split_dir} has no class subfolders; an ImageFolder needs "
                         f"{split_dir}/<class>/<image>.jpg")
    files = {}
    for c in classes:
        files[c] = sorted(e.name for e in os.scandir(split_dir / c) if e.is_file() and _is_image(e.name))
        if not files[c]:
            raise ValueError(f"class folder {split_dir / c} holds no images "
                             f"(extensions {', '.join(IMG_EXTENSIONS)})")
    return classes, files


def _load_imagefolder_split(root: Path, split: str, name: str) -> ImageSet:
    split_dir = root / split
    if not split_dir.is_dir():
        raise DataNotFoundError(
            f"root={str(root)!r} has no {split}/ folder; the imagefolder dataset needs "
            f"root/train/<class>/*.jpg and root/test/<class>/*.jpg (32x32 RGB images)")
    classes, files = _scan_folder(split_dir)
    n = sum(len(v) for v in files.values())
    mtime = max(os.stat(split_dir / c).st_mtime_ns for c in classes)
    key = f"folder|{split_dir.resolve()}|{n}|{mtime}|{'/'.join(classes)}"
    cpath = _cache_path(name, split, key)
    cached = _cache_load(cpath)
    if cached is not None:
        return cached
    blobs, names, labels = [], [], []
    for y, c in enumerate(classes):
        for f in files[c]:
            blobs.append((split_dir / c / f).read_bytes())
            names.append(f"{c}/{f}")
            labels.append(y)
    images = _decode(blobs, names, str(split_dir))
    data = ImageSet(images, torch.tensor(labels, dtype=torch.long), classes)
    _cache_save(cpath, data)
    return data


# ---------------------------------------------------------------------------------------- tarball
def _load_tarball(tar_path: Path, split: str, name: str) -> ImageSet:
    """Read ``<top>/{train,test}/<class>/*.jpg`` straight from the tarball; cache both splits."""
    st = tar_path.stat()
    key = f"tar|{tar_path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    cpath = _cache_path(name, split, key)
    cached = _cache_load(cpath)
    if cached is not None:
        return cached
    members = {"train": {}, "test": {}}
    with tarfile.open(tar_path, "r:gz") as tar:
        for m in tar:
            parts = m.name.strip("/").split("/")
            if not m.isfile() or len(parts) < 3 or not _is_image(parts[-1]):
                continue
            s, c, f = parts[-3], parts[-2], parts[-1]
            if s in members:
                members[s][(c, f)] = tar.extractfile(m).read()
    result = None
    for s, d in members.items():
        if not d:
            raise ValueError(f"{tar_path} holds no {s}/<class>/<image> files; expected the "
                             "cifar10-jpeg/{train,test}/<class>/*.jpg layout")
        keys = sorted(d)
        classes = sorted({c for c, _ in keys})
        index = {c: i for i, c in enumerate(classes)}
        images = _decode([d[k] for k in keys], [f"{c}/{f}" for c, f in keys], str(tar_path))
        labels = torch.tensor([index[c] for c, _ in keys], dtype=torch.long)
        data = ImageSet(images, labels, classes)
        _cache_save(_cache_path(name, s, key), data)
        if s == split:
            result = data
    return result


# ---------------------------------------------------------------------------------------- cifar10
def cifar10_source(root: str | os.PathLike) -> Optional[Path]:
    """What under ``root`` CIFAR-10 is read from, in :func:`load_dataset`'s order (an ImageFolder
    copy, ``cifar-10-batches-py``, ``cifar10-jpeg.tar.gz``), or None when it holds none of them."""
    root = Path(root)
    for folder in (root / "cifar10-jpeg", root):
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            return folder
    if (root / "cifar-10-batches-py").is_dir():
        return root / "cifar-10-batches-py"
    if (root / "cifar10-jpeg.tar.gz").is_file():
        return root / "cifar10-jpeg.tar.gz"
    return None


def _how_to_get(name: str, root: Path, split: str = "") -> str:
    if name == "cifar10":
        what = CIFAR10_FORMATS
    elif split == "extra":
        what = "extra_32x32.mat (torchvision's SVHN extra split, 1.3 GB)"
    else:
        what = "train_32x32.mat and test_32x32.mat (torchvision's SVHN files)"
    label = f"{name} {split} split" if split == "extra" else name
    return (f"{label} not found under root={str(root)!r}; pass download=True to let torchvision "
            f"download it there, or set MTLIB_DATA (or root) to a folder holding {what}")


def _load_cifar10(root: Path, train: bool, download: bool) -> ImageSet:
    split = "train" if train else "test"
    source = cifar10_source(root)
    if source is None:
        if not download:
            raise DataNotFoundError(_how_to_get("cifar10", root))
        root.mkdir(parents=True, exist_ok=True)
        return _torchvision_cifar10(root, train, download=True)
    if source == root / "cifar-10-batches-py":
        return _torchvision_cifar10(root, train, download=False)
    if source == root / "cifar10-jpeg.tar.gz":
        data = _load_tarball(source, split, name="cifar10")
    else:
        data = _load_imagefolder_split(source, split, name="cifar10")
    _check_cifar_classes(data, source)
    return data


def _check_cifar_classes(data: ImageSet, where) -> None:
    if data.classes != CIFAR10_CLASSES:
        raise ValueError(f"{where}: class folders {data.classes} are not CIFAR-10's "
                         f"{CIFAR10_CLASSES}")


def _torchvision_cifar10(root: Path, train: bool, download: bool) -> ImageSet:
    from torchvision.datasets import CIFAR10

    ds = CIFAR10(str(root), train=train, download=download)
    images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images, torch.tensor(ds.targets, dtype=torch.long), list(ds.classes))


# ------------------------------------------------------------------------------------------- svhn
def _read_svhn_mat(path: Path) -> ImageSet:
    """torchvision's SVHN reading: X (32, 32, 3, N) -> (N, 3, 32, 32); label 10 means digit 0."""
    import scipy.io as sio

    mat = sio.loadmat(str(path))
    x, y = mat["X"], mat["y"].astype(np.int64).squeeze(1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise ValueError(f"{path}: X has shape {x.shape}; expected (32, 32, 3, N)")
    np.place(y, y == 10, 0)
    images = torch.from_numpy(np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)))).to(torch.uint8)
    return ImageSet(images, torch.from_numpy(y), list(SVHN_CLASSES))


def _load_svhn(root: Path, split: str, download: bool) -> ImageSet:
    """SVHN's ``split`` in {"train", "test", "extra"} from ``<split>_32x32.mat`` under ``root``
    or ``root/svhn``; else torchvision's download into ``root`` when ``download``."""
    fname = f"{split}_32x32.mat"
    for folder in (root, root / "svhn"):
        if (folder / fname).is_file():
            # Read like torchvision.datasets.SVHN does, without its md5 check (so that small
            # files in the same format, as in the tests, load too).
            return _read_svhn_mat(folder / fname)
    if download:
        from torchvision.datasets import SVHN

        root.mkdir(parents=True, exist_ok=True)
        ds = SVHN(str(root), split=split, download=True)  # maps label 10 -> 0 itself
        return ImageSet(torch.from_numpy(ds.data), torch.from_numpy(ds.labels.astype(np.int64)),
                        list(SVHN_CLASSES))
    raise DataNotFoundError(_how_to_get("svhn", root, split))
