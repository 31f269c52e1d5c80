import pytest
import torch
from torch import nn

from mtlib.training import ema, schedules


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))


def test_ema_update_values_on_parameters_and_buffers():
    student = tiny()
    teacher = ema.make_teacher(student)
    with torch.no_grad():
        for p in teacher.parameters():
            p.fill_(1.0)
        for p in student.parameters():
            p.fill_(3.0)
    teacher[1].running_mean.fill_(0.0)
    student[1].running_mean.fill_(10.0)
    student[1].num_batches_tracked.fill_(7)
    ema.ema_update(teacher, student, 0.75)
    for p in teacher.parameters():
        assert torch.allclose(p, torch.full_like(p, 0.75 * 1 + 0.25 * 3))  # 1.5
    assert torch.allclose(teacher[1].running_mean, torch.full((3,), 2.5))   # BN buffers averaged too
    assert int(teacher[1].num_batches_tracked) == 7                         # integer buffers copied


def test_alpha_zero_copies_student():
    student = tiny()
    teacher = ema.make_teacher(student)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    ema.ema_update(teacher, student, 0.0)
    for t, s in zip(teacher.parameters(), student.parameters()):
        assert torch.equal(t, s)


def test_teacher_never_gets_gradients():
    student = tiny()
    teacher = ema.make_teacher(student)
    assert all(not p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())
    out = teacher(torch.randn(4, 2)).sum()
    assert not out.requires_grad


def test_decay_schedules():
    assert schedules.ema_decay(5, "constant", 0.999) == 0.999
    assert schedules.ema_decay(99, "rampup_switch", 0.999, rampup_steps=100) == 0.99
    assert schedules.ema_decay(100, "rampup_switch", 0.999, rampup_steps=100) == 0.999
    # the authors' PyTorch code counts the step first: min(1 - 1/(t + 1), alpha) with t = step + 1
    assert schedules.ema_decay(0, "warm_start", 0.99) == 0.5
    assert schedules.ema_decay(8, "warm_start", 0.99) == pytest.approx(0.9)
    assert schedules.ema_decay(10_000, "warm_start", 0.99) == 0.99
    with pytest.raises(ValueError, match="ema_schedule"):
        schedules.ema_decay(0, "linear", 0.9)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_decay_outside_unit_interval_is_rejected(bad):
    with pytest.raises(ValueError, match=r"ema_decay=.*outside \[0, 1\)"):
        ema.check_decay(bad)
