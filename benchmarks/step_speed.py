"""Images per second of one Mean Teacher training step of ConvNet13, against baselines in the same run.

Every row of one setting runs at the same precision and memory format (``--precisions``: fp32,
fp32-cl = channels_last, bf16-cl = channels_last + bfloat16 autocast of the forward passes) and
``--compile`` (torch.compile of the forward passes, off / on). Measurements (each a function;
2 warm-up steps, then ``--steps`` timed steps, batch 100):
  bare      student forward + backward + Adam step + teacher forward (no_grad) on pre-made float tensors
            (no EMA update, no data loading);
  pipeline  the authors' style of input pipeline: torchvision ImageFolder over the JPEG files, per-image PIL
            RandomCrop(32, padding=2, reflect) + RandomHorizontalFlip drawn twice (student and teacher views),
            DataLoader with 2 workers, then the same bare step;
  mtlib     the mtlib trainer's own step (``Trainer.train_step``: noise, EMA update and schedules included).

JPEGs: ``<mtlib.data.datasets.cache_dir()>/cifar10-jpeg/train`` if present, else ``--data`` (default $MTLIB_DATA):
a folder holding ``cifar10-jpeg/`` or ``cifar10-jpeg.tar.gz``, or the tarball itself, whose train split is
extracted to a temporary folder. Without JPEGs the pipeline row is skipped.

    python benchmarks/step_speed.py --steps 40 --widths 0.25 --precisions fp32 bf16-cl --data /path/to/folder
    python benchmarks/step_speed.py --cpu-scale --threads 1 --precisions fp32 fp32-cl bf16-cl --skip-pipeline
"""
import argparse
import os
import platform
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from mtlib.config import RunConfig
from mtlib.data import SemiSupervisedData
from mtlib.data.batches import masked_labels
from mtlib.data.datasets import cache_dir
from mtlib.models import ConvNet13
from mtlib.scales import CPU_SCALE
from mtlib.machine import cpu_capability
from mtlib.training.trainer import Trainer

BATCH = 100
DEVICE = torch.device("cpu")   # set by --device (default: cuda when available)
WARMUP = 5
PRECISIONS = {"fp32": (False, False), "fp32-cl": (True, False), "bf16-cl": (True, True)}


class Setting:
    """Precision, memory format and compilation shared by every row of one measurement."""

    def __init__(self, precision="fp32", compile=False, image_size=32):
        self.channels_last, self.bf16 = PRECISIONS[precision]
        self.precision, self.compile, self.image_size = precision, compile, image_size

    def models(self, *models):
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        models = [m.to(memory_format=fmt) for m in models]
        return [torch.compile(m) for m in models] if self.compile else models

    def autocast(self):
        return torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=self.bf16)

    def __str__(self):
        return f"{self.precision}{', compiled' if self.compile else ''}, {self.image_size}x{self.image_size}"


# ----------------------------------------------------------------------------- the step
def make_pair(width, setting, seed=0):
    """Student, teacher (a copy, no grads) and Adam optimiser for ConvNet13 at ``width``."""
    torch.manual_seed(seed)
    student = ConvNet13(width=width).train().to(DEVICE)
    teacher = ConvNet13(width=width).train().to(DEVICE)
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(student.parameters(), lr=0.003, betas=(0.9, 0.999),
                                 fused=DEVICE.type == "cuda")
    return (*setting.models(student, teacher), optimizer)


def bare_step(student, teacher, optimizer, x_student, x_teacher, labels, setting, consistency_weight=8.0):
    """Teacher forward without grad, student forward + backward + optimizer step."""
    with torch.no_grad(), setting.autocast():
        teacher_logits = teacher(x_teacher)
    with setting.autocast():
        logits = student(x_student)
    consistency = ((logits.float().softmax(1) - teacher_logits.float().softmax(1)) ** 2).mean()
    loss = F.cross_entropy(logits, labels) + consistency_weight * consistency
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def mtlib_step(width, steps, setting, cpu_scale=False):
    """The mtlib trainer's own Mean Teacher step (Trainer.train_step): index a batch of 100 from
    in-memory tensors, draw both noises on the batch, forward/backward, Adam with the scheduled
    lr/betas, EMA update of parameters and buffers, bookkeeping. ``cpu_scale``: the book's CPU-scale
    configuration (mtlib.scales.CPU_SCALE: 4 classes, 20 labeled per batch) on random images."""
    size, classes = setting.image_size, (len(CPU_SCALE["classes"]) if cpu_scale else 10)
    g = torch.Generator().manual_seed(0)
    n = 2000
    y = torch.randint(0, classes, (n,), generator=g)
    labeled = torch.arange(0, n, 5)
    empty_x, empty_y = torch.empty(0, 3, size, size), torch.empty(0, dtype=torch.long)
    data = SemiSupervisedData(
        train_x=torch.randn(n, 3, size, size, generator=g), train_labels=y, train_y_masked=masked_labels(y, labeled),
        labeled_idx=labeled, unlabeled_idx=torch.arange(n)[torch.arange(n) % 5 != 0],
        val_x=empty_x, val_y=empty_y, test_x=empty_x, test_y=empty_y,
        classes=[str(i) for i in range(classes)], num_classes=classes)
    base = {**CPU_SCALE, "max_train": None, "classes": None, "max_test": None} if cpu_scale else {}
    cfg = RunConfig(**{**base, "method": "mean_teacher", "n_labels": len(labeled), "width": width,
                       "batch_size": BATCH, "device": str(DEVICE), "steps": 10 ** 6, "rampup_steps": 1000,
                       "rampdown_steps": 1000, "eval_every": 0, "threads": 0, "image_size": size,
                       "channels_last": setting.channels_last, "precision": "bf16" if setting.bf16 else "fp32",
                       "compile": setting.compile})
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
def measure_bare(width, steps, setting):
    """(a) the bare step on the same pre-made float tensors."""
    student, teacher, optimizer = make_pair(width, setting)
    g = torch.Generator().manual_seed(0)
    size = setting.image_size
    fmt = torch.channels_last if setting.channels_last else torch.contiguous_format
    xs, xt = (torch.randn(BATCH, 3, size, size, generator=g).to(DEVICE, memory_format=fmt) for _ in range(2))
    labels = torch.randint(0, 10, (BATCH,), generator=g).to(DEVICE)
    return _timed(lambda: bare_step(student, teacher, optimizer, xs, xt, labels, setting), steps)


class TransformTwice:
    """Apply the same random transform twice: independent student and teacher views (authors' code)."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, img):
        return self.transform(img), self.transform(img)


def measure_pipeline(width, steps, image_dir, setting):
    """(b) ImageFolder JPEGs -> two PIL-augmented views -> DataLoader(2 workers) -> bare step."""
    import torchvision.datasets as tvd
    import torchvision.transforms as T

    augment = T.Compose([T.RandomCrop(32, padding=2, padding_mode="reflect"), T.RandomHorizontalFlip(),
                         T.ToTensor(), T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
    dataset = tvd.ImageFolder(str(image_dir), transform=TransformTwice(augment))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=2,
                                         drop_last=True, persistent_workers=False,
                                         generator=torch.Generator().manual_seed(0))
    student, teacher, optimizer = make_pair(width, setting)
    batches = iter(loader)
    fmt = torch.channels_last if setting.channels_last else torch.contiguous_format

    def step():
        (xs, xt), labels = next(batches)
        bare_step(student, teacher, optimizer, xs.to(DEVICE, memory_format=fmt), xt.to(DEVICE, memory_format=fmt),
                  labels.to(DEVICE), setting)

    try:
        return _timed(step, steps)
    finally:
        del batches


# ----------------------------------------------------------------------------- data location
def find_jpeg_train_dir(data, tmp_root):
    """A folder ``train/<class>/*.jpg``: cache_dir first, then ``data`` (folder or tarball), extracting if needed."""
    candidates = []
    candidates.append(Path(cache_dir()) / "cifar10-jpeg" / "train")
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
    parser.add_argument("--widths", type=float, nargs="+", default=[0.25], help="ConvNet13 widths")
    parser.add_argument("--image-size", type=int, default=32, help="image side in pixels (the CPU scale: 16)")
    parser.add_argument("--cpu-scale", action="store_true",
                        help="the book's CPU-scale run: width 1/8, 16x16, 4 classes, 20 labeled per batch")
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=list(PRECISIONS),
                        help="fp32, fp32-cl (channels_last), bf16-cl (channels_last + bf16 autocast)")
    parser.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"], help="torch.compile")
    parser.add_argument("--data", default=os.environ.get("MTLIB_DATA"),
                        help="folder with cifar10-jpeg/ or cifar10-jpeg.tar.gz, or the tarball (default $MTLIB_DATA)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="device to measure on (default: cuda when available, else cpu)")
    parser.add_argument("--skip-pipeline", action="store_true", help="only the bare and mtlib steps")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps={args.steps} must be >= 1")
    if args.cpu_scale:
        args.widths, args.image_size = [CPU_SCALE["width"]], CPU_SCALE["image_size"]
    torch.set_num_threads(args.threads)
    global DEVICE
    DEVICE = torch.device(args.device)
    name = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else (platform.processor() or platform.machine())
    lines = [f"device: {DEVICE} ({name}, CPU capability {cpu_capability()}), torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads, "
             f"batch {BATCH}, {WARMUP} warm-up + {args.steps} timed steps",
             f"{'setting':<28} {'width':>6} {'bare':>9} {'mtlib':>9} {'mtlib/bare time':>16} {'PIL pipeline':>13}"]
    print(lines[0], flush=True)
    tmp_root = tempfile.mkdtemp(prefix="mtlib-jpeg-")
    try:
        image_dir = None if args.skip_pipeline else find_jpeg_train_dir(args.data, tmp_root)
        if image_dir is None and not args.skip_pipeline:
            print("no JPEG files found (give --data); the pipeline column is skipped")
        for precision in args.precisions:
            for comp in args.compile:
                setting = Setting(precision, comp == "on", args.image_size)
                for width in args.widths:
                    bare = measure_bare(width, args.steps, setting)
                    ours = mtlib_step(width, args.steps, setting, cpu_scale=args.cpu_scale)
                    pipe = (measure_pipeline(width, args.steps, image_dir, setting)
                            if image_dir is not None and args.image_size == 32 else None)
                    lines.append(f"{str(setting):<28} {width:>6g} {bare:>9.0f} {ours:>9.0f} {bare / ours:>15.2f}x "
                                 f"{'%.0f' % pipe if pipe else 'n/a':>13}")
                    print(lines[-1], flush=True)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    print("\n".join(lines[1:]))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
