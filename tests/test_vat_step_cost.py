"""The VAT step-cost benchmark times the chapter's own configs (benchmarks/vat_step_cost.py)."""
import importlib.util
from pathlib import Path

import pytest

from mtlib.book import vat_study
from mtlib.scales import CPU_GRIDS

SPEC = importlib.util.spec_from_file_location(
    "vat_step_cost", Path(__file__).resolve().parent.parent / "benchmarks" / "vat_step_cost.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)


def test_the_arms_are_the_chapters_configs_with_mean_teacher_first():
    configs = bench.arm_configs()
    assert list(configs) == ["mean_teacher", *vat_study.ARMS]
    eps = CPU_GRIDS["vat_epsilons"][1]
    for arm in vat_study.ARMS:
        c = configs[arm]
        assert (c.method, c.vat_target, c.vat_epsilon, c.precision) == (
            vat_study.ARMS[arm]["method"], vat_study.ARMS[arm]["vat_target"], eps, "fp32")
    assert configs["mean_teacher"].method == "mean_teacher"
    assert configs["mean_teacher"].consistency_weight == configs["mean_teacher_vat/teacher"].consistency_weight


def test_a_count_below_one_is_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--steps", "0"])
    assert "--steps, --reps and --threads must be at least 1 (got 0, 2, 1)" in capsys.readouterr().err
