"""Images per second of one Mean Teacher training step of ConvNet13 on this CPU.

Measurements (each a function; 2 warm-up steps, then ``--steps`` timed steps, batch 100):
  bare      student forward + backward + Adam step + teacher forward (no_grad) on pre-made float tensors
            (no EMA update, no data loading);
  pipeline  the authors' style of input pipeline: torchvision ImageFolder over the JPEG files, per-image PIL
            RandomCrop(32, padding=2, reflect) + RandomHorizontalFlip drawn twice (student and teacher views),
            DataLoader with 2 workers, then the same bare step;
  mtlib     the mtlib trainer's own step (``Trainer.train_step``: noise, EMA update and schedules included).

JPEGs: ``<mtlib.data.datasets.cache_dir()>/cifar10-jpeg/train`` if present, else ``--data`` (default $MTLIB_DATA):
a folder holding ``cifar10-jpeg/`` or ``cifar10-jpeg.tar.gz``, or the tarball itself, whose train split is
extracted to a temporary folder. Without JPEGs the pipeline row is skipped.

    python benchmarks/step_speed.py --steps 5 --widths 1 0.25 --data /path/to/folder
"""
import argparse
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mtlib.models import ConvNet13

BATCH = 100
DEVICE = torch.device("cpu")   # set by --device (default: cuda when available)
WARMUP = 2


# ----------------------------------------------------------------------------- the step
def make_pair(width, seed=0):
    """Student, teacher (a copy, no grads) and Adam optimiser for ConvNet13 at ``width``."""
    torch.manual_seed(seed)
    student = ConvNet13(width=width).train().to(DEVICE)
    teacher = ConvNet13(width=width).train().to(DEVICE)
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(student.parameters(), lr=0.003, betas=(0.9, 0.999))
    return student, teacher, optimizer


def bare_step(student, teacher, optimizer, x_student, x_teacher, labels, consistency_weight=8.0):
    """Student forward + backward + optimizer step, and teacher forward without grad."""
    with torch.no_grad():
        teacher_logits = teacher(x_teacher)
    logits = student(x_student)
    consistency = ((logits.softmax(1) - teacher_logits.softmax(1)) ** 2).mean()
    loss = F.cross_entropy(logits, labels) + consistency_weight * consistency
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def mtlib_step(width, steps):
    """The mtlib trainer's own Mean Teacher step (Trainer.train_step): index a batch of 100 from
    in-memory tensors, draw both noises on the batch, forward/backward, Adam with the scheduled
    lr/betas, EMA update of parameters and buffers, bookkeeping."""
    from mtlib.data.batches import masked_labels
    from mtlib.config import RunConfig
    from mtlib.data import SemiSupervisedData
    from mtlib.training.trainer import Trainer

    g = torch.Generator().manual_seed(0)
    n = 2000
    y = torch.randint(0, 10, (n,), generator=g)
    labeled = torch.arange(0, n, 5)
    data = SemiSupervisedData(
        train_x=torch.randn(n, 3, 32, 32, generator=g), train_labels=y, train_y_masked=masked_labels(y, labeled),
        labeled_idx=labeled, unlabeled_idx=torch.arange(n)[torch.arange(n) % 5 != 0],
        val_x=torch.empty(0, 3, 32, 32), val_y=torch.empty(0, dtype=torch.long),
        test_x=torch.empty(0, 3, 32, 32), test_y=torch.empty(0, dtype=torch.long),
        classes=[str(i) for i in range(10)], num_classes=10)
    cfg = RunConfig(method="mean_teacher", n_labels=len(labeled), width=width, batch_size=BATCH, device=str(DEVICE),
                    steps=10 ** 6, rampup_steps=1000, rampdown_steps=1000, eval_every=0, threads=0)
    trainer = Trainer(cfg, data)
    return _timed(trainer.train_step, steps)


def _sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def _timed(step_fn, steps):
    for _ in range(WARMUP):
        step_fn()
    _sync()
    start = time.perf_counter()
    for _ in range(steps):
        step_fn()
    _sync()
    return steps * BATCH / (time.perf_counter() - start)


# ----------------------------------------------------------------------------- measurements
def measure_bare(width, steps):
    """(a) the bare step on the same pre-made float tensors."""
    student, teacher, optimizer = make_pair(width)
    g = torch.Generator().manual_seed(0)
    xs, xt = (torch.randn(BATCH, 3, 32, 32, generator=g).to(DEVICE) for _ in range(2))
    labels = torch.randint(0, 10, (BATCH,), generator=g).to(DEVICE)
    return _timed(lambda: bare_step(student, teacher, optimizer, xs, xt, labels), steps)


class TransformTwice:
    """Apply the same random transform twice: independent student and teacher views (authors' code)."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, img):
        return self.transform(img), self.transform(img)


def measure_pipeline(width, steps, image_dir):
    """(b) ImageFolder JPEGs -> two PIL-augmented views -> DataLoader(2 workers) -> bare step."""
    import torchvision.datasets as tvd
    import torchvision.transforms as T

    augment = T.Compose([T.RandomCrop(32, padding=2, padding_mode="reflect"), T.RandomHorizontalFlip(),
                         T.ToTensor(), T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
    dataset = tvd.ImageFolder(str(image_dir), transform=TransformTwice(augment))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=2,
                                         drop_last=True, persistent_workers=False,
                                         generator=torch.Generator().manual_seed(0))
    student, teacher, optimizer = make_pair(width)
    batches = iter(loader)

    def step():
        (xs, xt), labels = next(batches)
        bare_step(student, teacher, optimizer, xs.to(DEVICE), xt.to(DEVICE), labels.to(DEVICE))

    try:
        return _timed(step, steps)
    finally:
        del batches


def measure_mtlib(width, steps):
    """(c) the mtlib trainer's step."""
    return mtlib_step(width, steps)


# ----------------------------------------------------------------------------- data location
def find_jpeg_train_dir(data, tmp_root):
    """A folder ``train/<class>/*.jpg``: cache_dir first, then ``data`` (folder or tarball), extracting if needed."""
    candidates = []
    try:
        from mtlib.data.datasets import cache_dir
        candidates.append(Path(cache_dir()) / "cifar10-jpeg" / "train")
    except Exception:  # the data module may be absent or changed; --data still works
        pass
    if data:
        data = Path(data).expanduser()
        candidates += [data / "cifar10-jpeg" / "train", data / "train"]
    for c in candidates:
        if c.is_dir() and any(c.iterdir()):
            return c
    if not data:
        return None
    tar_path = data if data.is_file() else data / "cifar10-jpeg.tar.gz"
    if not tar_path.is_file():
        return None
    print(f"extracting the train split of {tar_path} to {tmp_root} ...", flush=True)
    with tarfile.open(tar_path) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and "/train/" in f"/{m.name}"]
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp_root, members=members, **extra)
    found = sorted(Path(tmp_root).glob("**/train"))
    return found[0] if found else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement (after 2 warm-up)")
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.25], help="ConvNet13 widths")
    parser.add_argument("--data", default=os.environ.get("MTLIB_DATA"),
                        help="folder with cifar10-jpeg/ or cifar10-jpeg.tar.gz, or the tarball (default $MTLIB_DATA)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="device to measure on (default: cuda when available, else cpu)")
    parser.add_argument("--skip-pipeline", action="store_true", help="only the bare (and mtlib) step")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps={args.steps} must be >= 1")
    torch.set_num_threads(args.threads)
    global DEVICE
    DEVICE = torch.device(args.device)
    print(f"device: {DEVICE}")

    tmp_root = tempfile.mkdtemp(prefix="mtlib-jpeg-")
    try:
        image_dir = None if args.skip_pipeline else find_jpeg_train_dir(args.data, tmp_root)
        if image_dir is None and not args.skip_pipeline:
            print("no JPEG files found (give --data); the pipeline row is skipped")
        rows = []
        for width in args.widths:
            rows.append(("bare step", width, measure_bare(width, args.steps)))
            if image_dir is not None:
                rows.append(("ImageFolder+PIL, 2 workers", width, measure_pipeline(width, args.steps, image_dir)))
            rows.append(("mtlib trainer step", width, measure_mtlib(width, args.steps)))
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    print(f"\nConvNet13 training step, batch {BATCH}, {torch.get_num_threads()} threads, "
          f"{WARMUP} warm-up + {args.steps} timed steps")
    print(f"{'measurement':<28} {'width':>6} {'images/s':>10}")
    for name, width, ips in rows:
        print(f"{name:<28} {width:>6g} {('%.1f' % ips) if ips is not None else 'n/a':>10}")


if __name__ == "__main__":
    main()
