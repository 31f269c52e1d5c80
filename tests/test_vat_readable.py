"""The VAT chapter's readable cost (the code cell with id ``vat-readable-cost``, plain torch lines)
computes what mtlib computes: the same r_adv as mtlib.training.adversarial and the same VAT cost as
the ``vat`` method's, on a small batch-norm network. And the probe length the CPU scale uses
(CPU_GRIDS["vat_xi"]) finds the float64 H d where vat_tf's 1e-6 does not (mtlib.book.vat_measure)."""
import json
from pathlib import Path

import torch

from mtlib.book.vat_measure import probe_cosines
from mtlib.config import RunConfig
from mtlib.models import ConvNet13, frozen_statistics
from mtlib.scales import CPU_GRIDS
from mtlib.training import ema as ema_lib
from mtlib.training.adversarial import kl_to_target, virtual_adversarial_perturbation
from mtlib.training.methods import make_method

CHAPTER = Path(__file__).resolve().parent.parent / "book" / "mean_teacher_vat.ipynb"
CELL_ID = "vat-readable-cost"


def readable_vat_cost():
    cells = [c for c in json.loads(CHAPTER.read_text())["cells"] if c.get("id") == CELL_ID]
    assert len(cells) == 1, f"{CHAPTER.name} must hold one code cell with id {CELL_ID!r}"
    namespace = {}
    exec(compile("".join(cells[0]["source"]), CELL_ID, "exec"), namespace)
    return namespace["vat_cost"]


def small_problem():
    torch.manual_seed(0)
    model = ConvNet13(num_classes=4, width=0.0625, dropout=0.0)
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    return model.train(), x


def frozen_forward(model):
    def forward(z):
        with frozen_statistics(model):
            return model(z)
    return forward


def test_the_readable_cost_is_mtlibs_cost():
    model, x = small_problem()
    eps, xi = 2.7, CPU_GRIDS["vat_xi"]
    cost, r_adv = readable_vat_cost()(frozen_forward(model), x, eps, xi, torch.Generator().manual_seed(7))
    target = frozen_forward(model)(x).detach()
    mean_kl = lambda logits, t: kl_to_target(logits, t).mean()
    reference = virtual_adversarial_perturbation(frozen_forward(model), x, target, mean_kl, eps, xi,
                                                 torch.Generator().manual_seed(7))
    assert torch.allclose(r_adv, reference, atol=1e-6) and torch.allclose(r_adv.flatten(1).norm(dim=1), torch.full((8,), eps), atol=1e-4)
    # the vat method's own cost: identity augmentation, so its generator's first draw is the same d
    cfg = RunConfig(method="vat", vat_epsilon=eps, vat_xi=xi, consistency_on="all", steps=10, rampup_steps=0, rampdown_steps=0)
    method = make_method("vat", model, ema_lib.make_teacher(model), cfg, lambda z, g: z, torch.Generator().manual_seed(7), 8, 4)
    _, stats = method.loss(x, torch.full((8,), -1), torch.arange(8), 0, weight=1.0)
    assert abs(float(stats["vat_cost"]) - float(cost.detach())) < 1e-6 and float(cost.detach()) > 0


def test_the_readable_cost_is_zero_at_epsilon_zero_and_leaves_no_gradient_in_r_adv():
    model, x = small_problem()
    cost, r_adv = readable_vat_cost()(frozen_forward(model), x, 0.0, 1e-3, torch.Generator().manual_seed(0))
    assert abs(float(cost)) < 1e-7 and not r_adv.requires_grad


def test_the_cpu_scales_xi_finds_h_d_where_1e_minus_6_does_not():
    """CPU-scale widths (1/8) at 16x16, batch norm, no dropout, random images: the float32 direction's
    median cosine with the float64 H d (the settings page gives the measurement on CPU-scale images)."""
    torch.manual_seed(0)
    model = ConvNet13(num_classes=4, width=0.125, dropout=0.0)
    x = torch.randn(32, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    cos = probe_cosines(model, x, [1e-6, CPU_GRIDS["vat_xi"]])
    assert cos[CPU_GRIDS["vat_xi"]].median() > 0.99
    assert cos[1e-6].median() < 0.9


def test_exercise_4s_solution_prints_what_its_text_says():
    """The VAT chapter's exercise 4 (does the random start matter?): its solution's code, run as printed,
    gives VAT's |cos| between 0.13 and 0.84 and (b)'s 1.00 on every image, as its text says."""
    import contextlib
    import io
    import re

    text = "".join(c for cell in json.loads(CHAPTER.read_text())["cells"] if cell["cell_type"] == "markdown"
                   for c in cell["source"])
    blocks = re.findall(r"\*\*4\. Does the random start matter\?\*\*.*?~~~python\n(.*?)~~~", text, re.S)
    assert len(blocks) == 1, "exercise 4's solution must hold one ~~~python block"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "exercise-4", "exec"), {})
    rows = {line.split(" ", 1)[0]: [float(v) for v in re.findall(r"\d\.\d*", line)]
            for line in out.getvalue().splitlines()}
    assert len(rows["VAT"]) == len(rows["(b)"]) == 8
    assert (min(rows["VAT"]), max(rows["VAT"])) == (0.13, 0.84)
    assert rows["(b)"] == [1.0] * 8
    assert "between 0.13 and 0.84" in text and "(b)'s 1.00 on all eight" in text
