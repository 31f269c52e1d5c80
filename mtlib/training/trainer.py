"""One training loop for every method (design card: config -> data -> model -> method -> trainer).

Each step: a batch of indices -> images and (masked) labels -> the method's loss -> backward ->
optimiser step with the scheduled lr / betas -> EMA update of the teacher -> method hooks.
Every ``eval_every`` steps and at the end, the student and the EMA model are evaluated on the
test (and validation) images, and a row is added to the history (with ``recalibrate_batches``, each
model is also evaluated as a copy with fresh normalisation statistics, mtlib.training.recalibrate:
columns ``student_recal_test_error`` etc. beside the as-trained ones).
The targets' accuracy (paper Sec. 1-2: does an averaged teacher give better targets?) is measured on
the logging side only: each row holds the accuracy of the consistency targets and of the student's
own predictions on the unlabeled images of the batches since the last row, and both models' error
on a fixed subset of the unlabeled training images (eval mode). The true labels of unlabeled images
live in ``Trainer.true_y``, which no method receives.
A step never waits for the device: its statistics are summed on the device and read at
evaluation time, and finiteness is a device-side flag read every ``FINITE_CHECK_EVERY`` steps,
at every evaluation and before every checkpoint (so the last checkpoint is always a good one).
"""
import time

import torch
from tqdm.auto import tqdm

from mtlib.training import ema as ema_lib
from mtlib.training import schedules
from mtlib.data.batches import MaskedBatches, SamplerView, TwoStreamBatches
from mtlib.training.checkpoints import load_checkpoint, save_checkpoint
from mtlib.data import load_data
from mtlib.training.evaluation import evaluate
from mtlib.training.recalibrate import noisy_batches, recalibrated
from mtlib.training.methods import make_method
from mtlib.models import build_model
from mtlib.models.weight_norm import data_dependent_init, has_weight_norm
from mtlib.data.noise import Augment
from mtlib.data.splits import NO_LABEL
from mtlib.training.precision import resolve_precision
from mtlib.training.schedules import apply_schedule, consistency_weight, make_optimizer
from mtlib.results import RunResult, checkpoint_path, provenance


FINITE_CHECK_EVERY = 100
UNLABELED_EVAL_SIZE = 1000     # unlabeled training images evaluated at every row (a fixed seeded subset;
                               # no more than max_test, so a smoke run's evaluation stays as small as its test set)
# running sums of the target logging (in Trainer._sums, not averaged into train_* columns)
_TARGET_SUMS = ("unlabeled_seen", "target_correct", "student_correct")


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; ``history`` holds the rows computed before."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


class Stopped(Exception):
    """``run(should_stop=...)`` stopped after a step; its checkpoint is written."""


class Trainer:
    """Builds model, EMA model, method, optimiser and batches from a RunConfig (validated there, so
    the trainer trusts it); ``run()`` trains."""

    def __init__(self, cfg, data=None):
        if isinstance(cfg, dict):
            raise TypeError("cfg must be a RunConfig, not a dict: RunConfig.from_dict(cfg) builds and checks one")
        self.cfg = cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = torch.device(cfg.device)
        self.precision = resolve_precision(cfg.precision, self.device)   # 'fp32' | 'bf16' on this machine
        self.data = data if data is not None else load_data(cfg)
        torch.manual_seed(cfg.seed)
        self.student = self._build_student().to(self.device)
        self.augment = augment = Augment(translate=cfg.translate, flip=cfg.flip, input_noise=cfg.input_noise)
        if has_weight_norm(self.student):
            self._data_dependent_init(augment)
        self.ema = ema_lib.make_teacher(self.student)
        if cfg.channels_last:       # speed knob (CPU and GPU): NHWC memory format for the convolutions
            self.student.to(memory_format=torch.channels_last)
            self.ema.to(memory_format=torch.channels_last)
        self.noise_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        self.batch_gen = torch.Generator().manual_seed(cfg.seed + 2)
        self.method = make_method(cfg.method, self._wrap_student(self.student),
                                  torch.compile(self.ema) if cfg.compile else self.ema, cfg, augment,
                                  self.noise_gen, len(self.data.train_labels), self.data.num_classes)
        self.optimizer = make_optimizer(self.student.parameters(), cfg)
        self.ema_step = ema_lib.EMAUpdate(self.ema, self.student, buffers=not self.method.teacher_keeps_own_statistics)
        self.batches = self._make_batches()
        self.train_x = self.data.train_x.to(self.device)
        self.train_y = self.data.train_y_masked.to(self.device)
        self.test_x, self.test_y = self._test_subset()
        # logging only: the true labels of every training image, and a fixed unlabeled subset
        self.true_y = self.data.train_labels.to(self.device)
        self.unlabeled_eval_idx = self._unlabeled_subset()
        self.history, self.step, self._sums, self._count = [], 0, {}, 0
        # first non-finite step and its loss, kept on the device (read by check_finite)
        self._first_bad = torch.full((), -1, dtype=torch.long, device=self.device)
        self._bad_loss = torch.zeros((), device=self.device)
        self._wall, self._eval_wall = 0.0, []   # training wall time so far (across resumed slices), per row

    def _build_student(self):
        """The student network (a hook: mtlib.reproduce.distributed swaps in synchronised batch norm)."""
        return build_model(self.cfg, num_classes=self.data.num_classes)

    def _data_dependent_init(self, augment):
        """Weight-normalised networks: g and b from one noisy batch of training images, before the
        teacher is copied (the authors' TF code runs its init tower on the first batch; here the
        batch is drawn with its own generator, so the training streams are those of any other run)."""
        gen = torch.Generator().manual_seed(self.cfg.seed + 3)
        index = torch.randperm(len(self.data.train_labels), generator=gen)[:self.cfg.batch_size]
        x = self.data.train_x[index].to(self.device)
        data_dependent_init(self.student, augment(x, torch.Generator(device=self.device).manual_seed(self.cfg.seed + 3)))

    def _wrap_student(self, student):
        """What the method calls as the student (a hook: distributed wraps it in DDP)."""
        return torch.compile(student) if self.cfg.compile else student

    def _make_batches(self):
        """The batch sampler (a hook: distributed takes this rank's slice of each batch)."""
        cfg, d = self.cfg, self.data
        if not self.method.uses_unlabeled:
            # supervised-only sees the labeled images alone (paper Tables 1-2, "Supervised-only")
            return _Remapped(MaskedBatches(len(d.labeled_idx), min(cfg.batch_size, len(d.labeled_idx)),
                                           self.batch_gen), d.labeled_idx)
        if cfg.labeled_per_batch is not None:
            return TwoStreamBatches(d.labeled_idx, d.unlabeled_idx, cfg.batch_size,
                                    cfg.labeled_per_batch, self.batch_gen)
        return MaskedBatches(len(d.train_labels), cfg.batch_size, self.batch_gen)

    def _test_subset(self):
        x, y = self.data.test_x, self.data.test_y
        if self.cfg.max_test is not None and self.cfg.max_test < len(y):
            keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:self.cfg.max_test]
            x, y = x[keep], y[keep]
        return x, y

    def _unlabeled_subset(self):
        """Up to UNLABELED_EVAL_SIZE (and max_test) unlabeled training images, drawn with a generator of
        their own."""
        unl, size = self.data.unlabeled_idx, min(UNLABELED_EVAL_SIZE, self.cfg.max_test or UNLABELED_EVAL_SIZE)
        gen = torch.Generator().manual_seed(self.cfg.seed + 4)
        return unl[torch.randperm(len(unl), generator=gen)[:size]]

    # ---------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self):
        return checkpoint_path(self.cfg.to_dict())

    def save_checkpoint(self):
        return save_checkpoint(self.checkpoint_path, {
            "step": self.step, "student": self.student.state_dict(), "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(), "method": self.method.state_dict(),
            "batches": self.batches.state_dict(), "noise_gen": self.noise_gen.get_state(),
            "torch_rng": torch.get_rng_state(), "history": self.history,
            "sums": self._sums, "count": self._count, "wall": self._wall, "eval_wall": self._eval_wall, "config": self.cfg.to_dict()})

    def resume(self):
        """Load the run's checkpoint if one exists; return True when it did."""
        path = self.checkpoint_path
        if path is None or not path.exists():
            return False
        state = load_checkpoint(path)
        self.student.load_state_dict(state["student"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.method.load_state_dict(state["method"])
        self.batches.load_state_dict(state["batches"])
        self.noise_gen.set_state(state["noise_gen"])
        torch.set_rng_state(state["torch_rng"])
        self.history, self.step = list(state["history"]), int(state["step"])
        self._sums, self._count = dict(state["sums"]), int(state["count"])
        self._wall, self._eval_wall = float(state["wall"]), list(state["eval_wall"])
        return True

    # ---------------------------------------------------------------- the loop
    def train_step(self):
        """One optimisation step; returns the method's stats (detached device tensors or floats)."""
        cfg, step = self.cfg, self.step
        epoch_before = int(self.batches.epoch)
        index = next(self.batches).to(self.device, non_blocking=True)
        hyper = apply_schedule(self.optimizer, cfg, step)
        weight = consistency_weight(cfg, step)
        self.student.train()
        x, labels = self.train_x[index], self.train_y[index]
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            loss, stats = self.method.loss(x, labels, index, step, weight)
        self._log_targets(index, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        decay = schedules.ema_decay(step, cfg.ema_schedule, cfg.ema_decay, cfg.rampup_steps, cfg.ema_decay_rampup)
        self.ema_step.update(decay)
        self.method.after_step(step)
        bad = ~torch.isfinite(loss.detach()) & (self._first_bad < 0)
        self._first_bad = torch.where(bad, torch.full_like(self._first_bad, step), self._first_bad)
        self._bad_loss = torch.where(bad, loss.detach().float(), self._bad_loss)
        self.step += 1
        # TE and friends: a pass over the data just ended?
        if int(self.batches.epoch) > epoch_before:
            self.method.after_epoch(int(self.batches.epoch))
        stats.update(lr=hyper["lr"], weight=weight, ema_decay=decay)
        for k, v in stats.items():
            self._sums[k] = self._sums.get(k, 0.0) + (v.float() if torch.is_tensor(v) else v)
        self._count += 1
        if self.step % FINITE_CHECK_EVERY == 0:
            self.check_finite()
        return stats

    def _log_targets(self, index, labels):
        """Sum, on the device, how many of this batch's unlabeled images the consistency target and the
        student's own (training-mode) prediction classify right, against the hidden true labels."""
        predictions = self.method.take_predictions()
        if predictions is None:
            return
        student, target = predictions
        true, unlabeled = self.true_y[index], labels == NO_LABEL
        for name, value in (("unlabeled_seen", unlabeled),
                            ("target_correct", unlabeled & (target.argmax(1) == true)),
                            ("student_correct", unlabeled & (student.argmax(1) == true))):
            self._sums[name] = self._sums.get(name, 0.0) + value.sum().float()

    def check_finite(self):
        """Raise TrainingDiverged if the loss was NaN or infinite at any step so far (one host read)."""
        first_bad = int(self._first_bad)
        if first_bad >= 0:
            cfg = self.cfg
            where = f"; the last good checkpoint is {self.checkpoint_path}" if self.checkpoint_path else ""
            raise TrainingDiverged(
                f"loss became {float(self._bad_loss)} at step {first_bad} (lr={schedules.schedule(cfg, first_bad)['lr']:.3g}, "
                f"consistency weight={consistency_weight(cfg, first_bad):.3g}){where}", self.history)

    def _reduce_stats(self, sums):
        """The summed train stats as logged (a hook: mtlib.reproduce.distributed averages them over ranks)."""
        return {k: float(v) for k, v in sums.items()}

    def evaluate_now(self):
        """Evaluate student and EMA model; append a history row with the averaged train stats."""
        self.check_finite()
        sums = self._reduce_stats(self._sums)
        counts = {k: sums.pop(k) for k in _TARGET_SUMS if k in sums}
        self._eval_wall.append(round(self._wall, 3))
        row = {"step": self.step, "epoch": float(self.batches.epoch),
               **{f"train_{k}": v / max(self._count, 1) for k, v in sums.items()}}
        if counts.get("unlabeled_seen"):
            seen = counts["unlabeled_seen"]
            row["train_target_accuracy"] = 100.0 * counts["target_correct"] / seen
            row["train_student_accuracy"] = 100.0 * counts["student_correct"] / seen
        for name, model in (("student", self.student), ("ema", self.ema)):
            self._evaluate_into(row, name, model)
            if self.cfg.recalibrate_batches:      # both evaluations: as trained, and recalibrated
                self._evaluate_into(row, f"{name}_recal", self._recalibrated(model))
        self.history.append(row)
        self._sums, self._count = {}, 0
        return row

    def _evaluate_into(self, row, name, model):
        """``row[f"{name}_{split}_error"]`` and ``_cost`` for the test set, the validation split (if any)
        and the fixed unlabeled subset."""
        splits = [("test", self.test_x, self.test_y)]
        if len(self.data.val_y):
            splits.append(("val", self.data.val_x, self.data.val_y))
        if len(self.unlabeled_eval_idx):
            idx = self.unlabeled_eval_idx
            splits.append(("unlabeled", self.data.train_x[idx], self.data.train_labels[idx]))
        for split, x, y in splits:
            row[f"{name}_{split}_error"], row[f"{name}_{split}_cost"] = evaluate(
                model, x, y, self.cfg.eval_batch_size, self.device)

    def _recalibrated(self, model):
        """``model``, or with ``recalibrate_batches`` a copy whose normalisation statistics come from that
        many noisy batches of the images the method trains on (mtlib.training.recalibrate; the same
        batches at every row, drawn from seed + 6, so training and resuming are untouched)."""
        cfg = self.cfg
        if not cfg.recalibrate_batches:
            return model
        pool = None if self.method.uses_unlabeled else self.data.labeled_idx
        batches = noisy_batches(self.train_x, cfg.recalibrate_batches, cfg.batch_size, self.augment,
                                cfg.seed + 6, pool=pool)
        return recalibrated(model, batches, cfg.seed + 6)

    def save_good_checkpoint(self):
        """Write the checkpoint only after checking that every step so far was finite."""
        self.check_finite()
        return self.save_checkpoint()

    def run(self, progress=True, resume=True, should_stop=None):
        """Train to ``cfg.steps``; return a RunResult (history, final metrics, provenance).

        ``should_stop()`` is asked after each step; when true, the step's evaluation (at an eval
        boundary) and the checkpoint are written and :class:`Stopped` is raised.
        """
        cfg = self.cfg
        if resume:
            self.resume()
        t0 = time.perf_counter()
        wall0 = self._wall
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not progress, desc=cfg.method,
                   mininterval=2.0, dynamic_ncols=True)
        while self.step < cfg.steps:
            self.train_step()
            self._wall = wall0 + time.perf_counter() - t0
            bar.update(1)
            eval_now = cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.steps
            if should_stop is not None and should_stop():
                if eval_now:
                    self.evaluate_now()
                if self.checkpoint_path:
                    self.save_good_checkpoint()
                bar.close()
                raise Stopped(f"stopped at step {self.step}/{cfg.steps}; checkpoint {self.checkpoint_path}")
            if eval_now:
                row = self.evaluate_now()
                bar.set_postfix(loss=f"{row['train_loss']:.3f}", ema_err=f"{row['ema_test_error']:.1f}%")
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.checkpoint_path:
                self.save_good_checkpoint()
        if not self.history or self.history[-1]["step"] != self.step:
            self.evaluate_now()
        bar.close()
        # the whole run's wall time and speed, over every slice it was resumed in
        wall = wall0 + time.perf_counter() - t0
        images = self.step * cfg.batch_size
        final = {k: v for k, v in self.history[-1].items() if k.endswith(("_error", "_cost"))}
        final["step"] = self.step
        if hasattr(self.method, "memory_bytes"):
            final["method_memory_bytes"] = self.method.memory_bytes()
        result = RunResult(config=cfg.to_dict(), history=self.history, final=final,
                           provenance=provenance(self.device, wall, images / wall if wall > 0 else 0.0,
                                                 how=dict(precision=self.precision, channels_last=cfg.channels_last,
                                                          compile=cfg.compile)))
        result.provenance["eval_wall_s"] = self._eval_wall   # training wall time at each history row
        return result


class _Remapped(SamplerView):
    """A batch sampler over positions 0..n-1 of ``index`` that yields ``index[positions]``."""

    def __init__(self, sampler, index):
        super().__init__(sampler)
        self.index = index

    def __next__(self):
        return self.index[next(self.sampler)]
