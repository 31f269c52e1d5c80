"""precision='auto': bf16 where the device has it natively, fp32 elsewhere; bf16 asked where it is
emulated works and warns once (mtlib.training.precision)."""
import warnings

import pytest

from mtlib import machine
from mtlib.config import RunConfig
from mtlib.scales import CPU_SCALE
from mtlib.training import precision


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Pretend this CPU has (True) or lacks (False) native bf16; forget earlier warnings."""
    def set_native(native):
        monkeypatch.delenv(precision.AUTO_ENV, raising=False)     # the probe decides, not the switch
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
        monkeypatch.setattr(precision, "_WARNED", set())
    return set_native


def test_auto_is_fp32_without_native_bf16_and_silent(cpu_bf16):
    cpu_bf16(False)
    assert RunConfig().precision == "auto"                     # a reader's own runs ask for auto
    assert RunConfig(**CPU_SCALE).precision == "fp32"          # the book's evidence is float32 everywhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")                          # any warning fails the test
        assert precision.resolve_precision("auto", "cpu") == "fp32"
        assert precision.resolve_precision("fp32", "cpu") == "fp32"


def test_auto_is_bf16_with_native_bf16(cpu_bf16):
    cpu_bf16(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert precision.resolve_precision("auto", "cpu") == "bf16"
        assert precision.resolve_precision("bf16", "cpu") == "bf16"


def test_bf16_without_native_support_works_and_warns_once(cpu_bf16):
    cpu_bf16(False)
    with pytest.warns(UserWarning, match="emulated.*5x slower.*'auto' picks float32"):
        assert precision.resolve_precision("bf16", "cpu") == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert precision.resolve_precision("bf16", "cpu") == "bf16"   # the second time: silent


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("forced", ["fp32", "bf16"])
def test_auto_can_be_forced_for_the_test_suite(cpu_bf16, monkeypatch, native, forced):
    cpu_bf16(native)
    monkeypatch.setenv(precision.AUTO_ENV, forced)
    assert precision.resolve_precision("auto", "cpu") == forced
    assert precision.resolve_precision("fp32", "cpu") == "fp32"      # an explicit choice is kept
    monkeypatch.setenv(precision.AUTO_ENV, "fp16")
    with pytest.raises(ValueError, match="MTLIB_AUTO_PRECISION='fp16'.*fp32 or bf16"):
        precision.resolve_precision("auto", "cpu")


def test_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="precision='fp16'.*auto.*fp32.*bf16"):
        RunConfig(precision="fp16")
    with pytest.raises(ValueError, match="precision='half'"):
        precision.resolve_precision("half", "cpu")


def test_capability_names_the_vector_unit():
    cap = machine.cpu_capability()
    assert cap.split()[0] in {"DEFAULT", "NO AVX", "AVX2", "AVX512", "ZVECTOR", "VSX", "SVE256", "SVE"}, cap
