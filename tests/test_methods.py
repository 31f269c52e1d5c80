"""The four methods on a tiny linear model: where gradients flow, what the targets are."""
import pytest
import torch
from torch import nn

from mtlib.training import ema as ema_lib
from mtlib.config import RunConfig
from mtlib.data.splits import NO_LABEL
from mtlib.training.losses import softmax_mse
from mtlib.training.methods import make_method


class ShiftNoise:
    """A deterministic 'noise' that differs on every call, so two passes see different inputs."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x, generator):
        self.calls += 1
        return x + 0.1 * self.calls


def setup(method, **cfg_changes):
    torch.manual_seed(0)
    student = nn.Linear(3, 4)
    teacher = ema_lib.make_teacher(student)
    with torch.no_grad():
        for p in teacher.parameters():
            p.mul_(0.5)  # a teacher that differs from the student
    cfg = RunConfig(method=method, steps=10, rampup_steps=0, rampdown_steps=0, **cfg_changes)
    m = make_method(method, student, teacher, cfg, ShiftNoise(), None, n_train=6, num_classes=4)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([1, NO_LABEL, NO_LABEL, 2, NO_LABEL, NO_LABEL])
    return m, student, teacher, x, labels


def grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method='fixmatch' is unknown"):
        make_method("fixmatch", None, None, None, None, None, 1, 1)


def test_mean_teacher_target_is_constant_teacher_output():
    m, student, teacher, x, labels = setup("mean_teacher", consistency_on="all")
    loss, stats = m.loss(x, labels, torch.arange(6), 0, weight=0.0)
    assert set(stats) >= {"loss", "class_cost", "consistency_cost"}
    # recompute by hand: student sees x + 0.1, teacher sees x + 0.2 (independent noise)
    expected = softmax_mse(student(x + 0.1), teacher(x + 0.2)).item()
    assert stats["consistency_cost"] == pytest.approx(expected)
    m.loss(x, labels, torch.arange(6), 0, weight=1.0)[0].backward()
    assert all(p.grad is None for p in teacher.parameters())


def test_pi_model_gradient_flows_through_both_passes():
    m, student, _, x, labels = setup("pi")
    loss, _ = m.loss(x, labels.fill_(NO_LABEL), torch.arange(6), 0, weight=1.0)
    loss.backward()
    both = grads(student).clone()
    student.zero_grad()
    softmax_mse(student(x + 0.1), student(x + 0.2).detach()).backward()
    one_side = grads(student)
    assert both.abs().sum() > 0
    assert not torch.allclose(both, one_side)   # a detached target would give a different gradient


def test_consistency_on_unlabeled_only_ignores_labeled_images():
    m, student, teacher, x, labels = setup("mean_teacher", consistency_on="unlabeled")
    _, stats = m.loss(x, labels, torch.arange(6), 0, weight=1.0)
    unl = labels == NO_LABEL
    # summed over the unlabeled images, divided by the whole batch (authors' TF code: masked mean)
    per_image = softmax_mse(student(x + 0.1)[unl], teacher(x + 0.2)[unl], reduction="none")
    assert stats["consistency_cost"] == pytest.approx(per_image.sum().item() / len(labels))


def test_supervised_uses_labels_only():
    m, *_ = setup("supervised")
    assert m.uses_unlabeled is False


def test_temporal_ensembling_bias_correction_and_first_epoch():
    m, student, _, x, labels = setup("temporal_ensembling", te_alpha=0.6)
    _, stats = m.loss(x, labels, torch.arange(6), 0, weight=5.0)
    assert stats["consistency_cost"] == 0.0            # no target during the first epoch
    z1 = m.epoch_outputs.clone()
    assert torch.allclose(z1.sum(1), torch.ones(6))    # softmax outputs recorded per image
    m.after_epoch(1)
    assert torch.allclose(m.targets, z1, atol=1e-6)    # (1 - a) z / (1 - a) = z: bias removed
    assert torch.allclose(m.ensemble, 0.4 * z1)        # the raw ensemble is shrunk towards 0
    z2 = torch.full((6, 4), 0.25)
    m.epoch_outputs = z2.clone()
    m.after_epoch(2)
    expected = (0.6 * 0.4 * z1 + 0.4 * z2) / (1 - 0.6 ** 2)
    assert torch.allclose(m.targets, expected, atol=1e-6)
    _, stats = m.loss(x, labels, torch.arange(6), 0, weight=5.0)
    assert stats["consistency_cost"] > 0
    assert m.memory_bytes() == 3 * 6 * 4 * 4           # O(N x classes) floats


def test_two_heads_logit_distance_is_added():
    class TwoHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 4), nn.Linear(3, 4)

        def forward(self, x):
            return self.a(x), self.b(x)

    torch.manual_seed(0)
    student = TwoHead()
    teacher = ema_lib.make_teacher(student)
    cfg = RunConfig(method="mean_teacher", steps=10, rampup_steps=0, rampdown_steps=0,
                    two_heads=True, logit_distance_weight=0.5)
    m = make_method("mean_teacher", student, teacher, cfg, ShiftNoise(), None, 6, 4)
    x = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    _, stats = m.loss(x, labels, torch.arange(6), 0, weight=0.0)
    a, b = student(x + 0.1)
    # summed over classes (TF code, Fig. 4e), averaged over the batch
    assert stats["logit_distance"] == pytest.approx(((a - b) ** 2).sum(1).mean().item(), rel=1e-5)
    assert float(stats["loss"]) == pytest.approx(float(stats["class_cost"] + 0.5 * stats["logit_distance"]), rel=1e-5)


class Half(nn.Module):
    """A fixed 'teacher': logits / 2."""

    def forward(self, x):
        return x / 2


@pytest.mark.parametrize("batch,labeled,on", [(100, 1, "unlabeled"),   # SVHN: 1 labeled + 99 unlabeled
                                              (100, 8, "all")])         # CIFAR-10: masked batch of 100
def test_class_and_consistency_gradients_follow_the_authors_scaling(batch, labeled, on):
    """Loss = (1/B) sum_labeled CE + w (1/B) sum_selected J: each image's gradient is its own cost's
    gradient divided by the WHOLE batch B, however many images are labeled."""
    torch.manual_seed(0)
    x = torch.randn(batch, 10, requires_grad=True)        # the student is the identity: x are logits
    labels = torch.full((batch,), NO_LABEL)
    labels[:labeled] = torch.randint(0, 10, (labeled,))
    cfg = RunConfig(method="mean_teacher", steps=10, rampup_steps=0, rampdown_steps=0, consistency_on=on)
    m = make_method("mean_teacher", nn.Identity(), Half(), cfg, lambda v, g: v, None, batch, 10)
    w = 3.0
    m.loss(x, labels, torch.arange(batch), 0, weight=w)[0].backward()

    def consistency_grad(row):   # d/dx_row of J(x_row, x_row / 2), the teacher side constant
        xr = x[row].detach().clone().requires_grad_(True)
        softmax_mse(xr[None], (xr / 2)[None].detach()).backward()
        return xr.grad

    p = torch.softmax(x.detach(), 1)
    class_grad0 = (p[0] - nn.functional.one_hot(labels[0], 10)) / batch      # dCE/dx / B
    expected0 = class_grad0 + (w / batch * consistency_grad(0) if on == "all" else 0)
    assert torch.allclose(x.grad[0], expected0, atol=1e-7)
    assert torch.allclose(x.grad[batch - 1], w / batch * consistency_grad(batch - 1), atol=1e-8)
    # the ratio of the two terms' gradients does not depend on how many images are labeled
    ratio = class_grad0.norm() / x.grad[batch - 1].norm()
    assert ratio.item() == pytest.approx(((p[0] - nn.functional.one_hot(labels[0], 10)).norm()
                                          / (w * consistency_grad(batch - 1).norm())).item(), rel=1e-5)
