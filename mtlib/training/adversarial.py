"""Virtual adversarial training (Miyato et al., "Virtual Adversarial Training", TPAMI 2018), as pure
functions of a ``forward`` callable. Leaf module: imports only torch.

The cost is the local distributional smoothness D[p(y|x), p(y|x + r_adv)] with the clean prediction a
constant (Sec. 3). Its perturbation r_adv = eps g / ||g|| per image, g = grad_r D at r = xi d, is one
step of the power method on the Hessian of D from a random unit direction d (Sec. 3.1, the fast
approximation: D has gradient 0 and Hessian H at r = 0, so grad_r D at xi d is about xi H d);
``n_power_iterations`` > 1 repeats the step (vat_tf ``vat.py`` 42-48). ``divergence(logits, target)``
and ``forward`` are the caller's: the method decides which model runs (with frozen normalisation
statistics and replayed dropout draws, ``mtlib.training.methods.vat``) and which cost is maximised.
"""
from contextlib import contextmanager

import torch
import torch.nn.functional as F


def unit_per_image(d):
    """d / ||d|| for each image (L2 over all but the first dimension), first scaled by 1 / max |d| so the
    squares neither under- nor overflow; vat_tf ``get_normalized_vector`` (``vat.py`` 33-36), whose
    1e-6 under the square root is kept: an all-zero d stays 0 (a masked image is not perturbed)."""
    dims = tuple(range(1, d.dim()))
    d = d / (1e-12 + d.abs().amax(dim=dims, keepdim=True))
    return d / torch.sqrt(1e-6 + (d ** 2).sum(dim=dims, keepdim=True))


def virtual_adversarial_perturbation(forward, x, target_logits, divergence, epsilon, xi, generator,
                                     n_power_iterations=1):
    """r_adv = epsilon * g / ||g|| per image, g = grad_r divergence(forward(x + r), target) at r = xi d,
    d a random unit direction per image drawn from ``generator`` (VAT paper Sec. 3.1). Each further
    iteration takes the last g as d (the power method d <- H d). Returned detached: no gradient flows
    through r_adv, nor through x or the target."""
    x, target = x.detach(), target_logits.detach()
    d = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    with torch.enable_grad():
        for _ in range(n_power_iterations):
            r = (xi * unit_per_image(d)).requires_grad_()
            d, = torch.autograd.grad(divergence(forward(x + r), target), [r])
    return epsilon * unit_per_image(d.detach())


def kl_to_target(logits, target_logits):
    """KL(softmax(target) || softmax(logits)) per image, summed over classes: VAT's D (Sec. 3;
    vat_tf ``layers.py`` 138-142 before its batch mean)."""
    target_logp = F.log_softmax(target_logits, dim=1)
    return (target_logp.exp() * (target_logp - F.log_softmax(logits, dim=1))).sum(dim=1)


def entropy(logits):
    """H(p) = -sum_y p(y|x) log p(y|x) per image: the conditional entropy term of VAT+EntMin (VAT paper
    "VAT+EntMin", after Grandvalet & Bengio 2005; vat_tf ``layers.py`` 145-147 before its batch mean)."""
    logp = F.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(dim=1)


def rng_snapshot(device):
    """The state of torch's global generator(s) that a forward pass on ``device`` draws from (dropout,
    shake-shake): the CPU one, and the device's own on CUDA."""
    device = torch.device(device)
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return device, torch.get_rng_state(), cuda


@contextmanager
def replayed_draws(snapshot):
    """Inside, torch's global RNG starts at ``snapshot``, so a pass of the same shapes draws the same
    dropout masks as the pass that followed the snapshot; on exit the RNG is where it was before the
    block, so the block leaves no trace in the random stream (the same seed, the same run)."""
    device, cpu, cuda = snapshot
    with torch.random.fork_rng(devices=[device] if cuda is not None else []):
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state(cuda, device)
        yield
