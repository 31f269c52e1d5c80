import math

import pytest
import torch

from mtlib.training import losses


def test_softmax_mse_hand_computed():
    # two classes: softmax([0, 0]) = (.5, .5); softmax([log 3, 0]) = (.75, .25)
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0]])
    # ((.5-.75)^2 + (.5-.25)^2) / 2 classes = 0.0625
    assert losses.softmax_mse(s, t).item() == pytest.approx(0.0625)


def test_softmax_kl_hand_computed():
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0]])
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert losses.softmax_kl(s, t).item() == pytest.approx(expected)


def test_tau_zero_is_mse_and_tau_one_is_scaled_kl():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
    assert torch.equal(losses.tau_consistency(s, t, 0.0), losses.softmax_mse(s, t))
    n = 10
    scale = 2 * (1 - 1 / n) / n ** 2
    assert losses.tau_consistency(s, t, 1.0).item() == pytest.approx(scale * losses.softmax_kl(s, t).item(), rel=1e-5)


def test_tau_family_approaches_mse_scale_for_small_tau():
    # For small tau, KL(q~||p~) ~ (N tau^2 / 2) sum (p - q)^2, so the cost tends to (1 - 1/N) * MSE.
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(4, 10, generator=g), torch.randn(4, 10, generator=g)
    small = losses.tau_consistency(s.double(), t.double(), 1e-4).item()
    assert small == pytest.approx((1 - 1 / 10) * losses.softmax_mse(s.double(), t.double()).item(), rel=1e-3)


def test_tau_outside_range_names_parameter():
    with pytest.raises(ValueError, match="consistency_tau"):
        losses.tau_consistency(torch.zeros(1, 2), torch.zeros(1, 2), 1.5)


def test_logit_distance_summed_over_classes_tf_and_averaged_pytorch():
    a = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # TF code (ConvNet, Fig. 4e): per image sum over classes, then the batch mean: (13 + 1) / 2
    assert losses.logit_distance(a, b).item() == pytest.approx(7.0)
    # PyTorch ResNet code: per image mean over classes, then the batch mean: (13/3 + 1/3) / 2
    assert losses.logit_distance(a, b, classes="mean").item() == pytest.approx(14 / 6)
    assert losses.logit_distance(a, b).item() == losses.logit_distance(b, a).item()


def test_classification_cost_is_labeled_sum_over_whole_batch():
    # a batch of 4 with 1 labeled image: CE of that image / 4 (all three reference codebases)
    logits = torch.tensor([[2.0, 0.0], [0.0, 5.0], [9.0, -9.0], [1.0, 1.0]])
    labels = torch.tensor([0, losses.NO_LABEL, losses.NO_LABEL, losses.NO_LABEL])
    ce = math.log(1 + math.exp(-2.0))                       # -log softmax([2, 0])[0]
    assert losses.classification_cost(logits, labels).item() == pytest.approx(ce / 4)
    assert losses.classification_cost(logits, labels, over="labeled").item() == pytest.approx(ce)
    with pytest.raises(ValueError, match="over='x'"):
        losses.classification_cost(logits, labels, over="x")


def test_classification_cost_ignores_unlabeled():
    logits = torch.tensor([[2.0, 0.0], [0.0, 5.0], [9.0, -9.0]])
    labels = torch.tensor([0, losses.NO_LABEL, losses.NO_LABEL])
    expected = -torch.log_softmax(logits[:1], 1)[0, 0].item() / 3
    assert losses.classification_cost(logits, labels).item() == pytest.approx(expected)
    # changing an unlabeled image's logits changes nothing
    logits2 = logits.clone()
    logits2[1] = torch.tensor([7.0, -7.0])
    assert losses.classification_cost(logits2, labels).item() == pytest.approx(expected)


def test_classification_cost_all_unlabeled_is_zero_not_nan():
    logits = torch.randn(3, 4, requires_grad=True)
    cost = losses.classification_cost(logits, torch.full((3,), losses.NO_LABEL))
    cost.backward()
    assert cost.item() == 0.0 and torch.all(logits.grad == 0)


def test_reduction_none_gives_one_value_per_image():
    s, t = torch.randn(5, 3), torch.randn(5, 3)
    per = losses.softmax_mse(s, t, reduction="none")
    assert per.shape == (5,)
    assert per.mean().item() == pytest.approx(losses.softmax_mse(s, t).item())
    with pytest.raises(ValueError, match="reduction"):
        losses.softmax_mse(s, t, reduction="sum")


def test_consistency_cost_dispatch_errors():
    with pytest.raises(ValueError, match="consistency='l1'"):
        losses.consistency_cost(torch.zeros(1, 2), torch.zeros(1, 2), kind="l1")
