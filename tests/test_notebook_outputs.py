"""Every chapter's stored outputs are what executing it computes: nbval's comparison, run on the
notebooks the book build has just executed (scripts/build_book.sh fills the jupyter-cache in
_build/.jupyter_cache), so each chapter executes once for the build and this check together.

Compared as nbval compares them (``pytest --nbval``, which still works on its own): every output
field except images, widget ids, metadata and execution counts; streams merged per name; strings
sanitised with tests/nbval_sanitize.cfg; cells tagged ``nbval-ignore-output`` (printed numbers that
depend on the CPU's floating-point kernels) or ``nbval-skip`` are not compared. An error in any
executed cell fails.
"""
import re
from collections import defaultdict
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbval_plugin = pytest.importorskip("nbval.plugin")
jupyter_cache = pytest.importorskip("jupyter_cache")

pytestmark = pytest.mark.book

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "_build" / ".jupyter_cache"
SANITIZE = nbval_plugin.get_sanitize_patterns((Path(__file__).parent / "nbval_sanitize.cfg").read_text())
SKIP_KEYS = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
             "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}
NOT_COMPARED = {"nbval-ignore-output", "nbval-skip"}
CHAPTERS = sorted((REPO / "book").glob("*.ipynb"))


def _sanitize(value):
    if not isinstance(value, str):
        return value
    for regex, replace in SANITIZE:
        value = re.sub(regex, replace, value)
    return value


def comparable(outputs):
    """nbval's view of a cell's outputs: {field or MIME type: [sanitised values in order]}."""
    outputs = nbval_plugin.transform_streams_for_comparison(
        nbval_plugin.coalesce_streams([nbformat.from_dict(o) for o in outputs]))
    fields = defaultdict(list)
    for out in outputs:
        for key, value in out.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIP_KEYS:
                        fields[mime].append(_sanitize(data))
            elif key not in SKIP_KEYS:
                fields[key].append(_sanitize(value))
    return dict(fields)


def differences(stored, executed):
    """[(cell number, what differs)] between a notebook's stored and freshly executed outputs."""
    code = lambda nb: [c for c in nb.cells if c.cell_type == "code"]
    found = []
    for k, (ref, new) in enumerate(zip(code(stored), code(executed))):
        errors = [o for o in new.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            found.append((k, f"raised {errors[0].get('ename')}: {errors[0].get('evalue')}"))
            continue
        if set(ref.metadata.get("tags", [])) & NOT_COMPARED:
            continue
        a, b = comparable(ref.get("outputs", [])), comparable(new.get("outputs", []))
        if a != b:
            key = next(k2 for k2 in sorted(set(a) | set(b)) if a.get(k2) != b.get(k2))
            found.append((k, f"{key}: " + _first_difference("\n".join(map(str, a.get(key, []))),
                                                             "\n".join(map(str, b.get(key, []))))))
    return found


def _first_difference(stored, executed):
    """The first line where two texts differ, stored and executed."""
    for line, (x, y) in enumerate(zip(stored.splitlines() + [""], executed.splitlines() + [""]), 1):
        if x != y:
            return f"line {line}: stored {x[:200]!r}, executed {y[:200]!r}"
    return "the same lines, other whitespace"


@pytest.fixture(scope="module")
def cache():
    if not CACHE.is_dir():
        pytest.fail(f"no executed notebooks in {CACHE.relative_to(REPO)}: run scripts/build_book.sh first")
    return jupyter_cache.get_cache(str(CACHE))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_stored_outputs_are_what_the_chapter_computes(chapter, cache):
    stored = nbformat.read(chapter, as_version=4)
    try:
        _, executed = cache.merge_match_into_file(str(chapter))
    except KeyError:
        pytest.fail(f"{chapter.name} was not executed by the last build (or changed since): rebuild the book")
    assert len(executed.cells) == len(stored.cells)
    found = differences(stored, executed)
    assert not found, f"{chapter.name}: " + "; ".join(f"code cell {k}: {what}" for k, what in found)


def test_the_comparison_sees_a_changed_number_and_ignores_a_tagged_cell():
    """The check itself: a changed printed number is a difference, a wall time is not, an
    ignore-output cell is not compared, an error always counts."""
    cell = lambda text, tags=(): nbformat.v4.new_code_cell("x", metadata={"tags": list(tags)}, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=text)])
    nb = lambda *cells: nbformat.v4.new_notebook(cells=list(cells))
    assert differences(nb(cell("error 12.5 % in 3.2 s\n")), nb(cell("error 12.5 % in 9.9 s\n"))) == []
    assert differences(nb(cell("error 12.5 %\n")), nb(cell("error 12.6 %\n")))[0][0] == 0
    assert differences(nb(cell("12.5\n", ["nbval-ignore-output"])), nb(cell("99\n", ["nbval-ignore-output"]))) == []
    broken = nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])])
    assert "raised ValueError: bad" in differences(nb(cell("1\n", ["nbval-ignore-output"])), nb(broken))[0][1]
