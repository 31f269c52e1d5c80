"""Every training chapter's parameters cell: its own knobs, then one ``name = None`` line per RunConfig
field (mtlib.book.chapter.PARAMETERS_BLOCK), each on its own line, so papermill knows every name."""
import ast
import json
from dataclasses import fields
from pathlib import Path

import pytest

from mtlib.book.chapter import PARAMETERS_BLOCK, chapter_config
from mtlib.config import RunConfig
from mtlib.scales import CPU_SCALE, SMOKE

BOOK = Path(__file__).resolve().parent.parent / "book"
TRAINING = ["ablations", "mean_teacher", "mean_teacher_vat", "paper_scale", "pi_model", "results_tables",
            "temporal_ensembling", "training_curves", "what_makes_mt_win"]


def cells(chapter):
    return json.loads((BOOK / f"{chapter}.ipynb").read_text())["cells"]


def parameters_source(chapter):
    found = [c for c in cells(chapter) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"{chapter}: {len(found)} parameters cells"
    assert "hide-cell" in found[0]["metadata"]["tags"], f"{chapter}: parameters cell not tagged hide-cell"
    return "".join(found[0]["source"])


def test_training_chapters_are_the_ones_calling_chapter_config():
    calling = sorted(p.stem for p in BOOK.glob("*.ipynb")
                     if any("chapter_config(" in "".join(c["source"]) for c in cells(p.stem) if c["cell_type"] == "code"))
    assert calling == sorted(TRAINING)


@pytest.mark.parametrize("chapter", TRAINING)
def test_parameters_cell_names_every_runconfig_field_once(chapter):
    pm = pytest.importorskip("papermill")
    source = parameters_source(chapter)
    assert source.rstrip().endswith(PARAMETERS_BLOCK), f"{chapter}: must end with PARAMETERS_BLOCK"
    assigned = []
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, f"{chapter}: line {node.lineno}"
        assigned.append(node.targets[0].id)
    lines = [n.lineno for n in ast.parse(source).body]
    assert len(set(lines)) == len(lines), f"{chapter}: two assignments on one line hide a name from papermill"
    assert len(set(assigned)) == len(assigned), f"{chapter}: a name is assigned twice"
    own = [n for n in assigned if n not in {f.name for f in fields(RunConfig)}]
    assert assigned == own + [f.name for f in fields(RunConfig)]
    known = pm.inspect_notebook(str(BOOK / f"{chapter}.ipynb"))
    assert set(known) == set(assigned)


def test_chapter_config_defaults_to_the_cpu_scale_and_names_bad_values():
    assert chapter_config({f.name: None for f in fields(RunConfig)}) == RunConfig(**CPU_SCALE)
    assert chapter_config({"classes": "none"}).classes is None
    smoke = {k: v for k, v in SMOKE.items() if k in CPU_SCALE}
    assert chapter_config(smoke) == RunConfig(**{**CPU_SCALE, **smoke})
    with pytest.raises(ValueError, match="steps"):
        chapter_config({"steps": "abc"})


def test_papermill_bad_field_fails_naming_it(tmp_path, monkeypatch):
    pm = pytest.importorskip("papermill")
    monkeypatch.setenv("MTLIB_RESULTS", str(tmp_path / "results"))
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None,
                     "outputs": [], "source": "seeds = [0]\n" + PARAMETERS_BLOCK},
                    {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": "from mtlib.book.chapter import chapter_config\nchapter_config(globals())"}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "tiny.ipynb").write_text(json.dumps(nb))
    with pytest.raises(pm.PapermillExecutionError, match="steps"):
        pm.execute_notebook(str(tmp_path / "tiny.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"steps": "abc"}, kernel_name="python3", progress_bar=False)
