"""How the book shows each method: one display name, colours and line style for every chapter.

Fig. 3's colours: Mean Teacher student orange, EMA blue; Pi model student light, EMA dark grey.
"""
from typing import NamedTuple


class MethodStyle(NamedTuple):
    name: str          # in tables and legends
    paper_row: object  # the row of the paper's tables (mtlib.book.paper) that reports this method, or None
    colors: dict       # {"student": colour, "ema": colour}
    linestyle: str


STYLES = {
    "supervised": MethodStyle("Supervised-only", "Supervised-only",
                              {"student": "#9acd9a", "ema": "tab:green"}, ":"),
    "pi": MethodStyle("Π model", "Pi model", {"student": "#aaaaaa", "ema": "#404040"}, "--"),
    "temporal_ensembling": MethodStyle("Temporal Ensembling", "Temporal Ensembling [13]",
                                       {"student": "#f4a6a6", "ema": "tab:red"}, "-."),
    "mean_teacher": MethodStyle("Mean Teacher", "Mean Teacher",
                                {"student": "tab:orange", "ema": "tab:blue"}, "-"),
    # no paper row: the paper's "VAT+EntMin" row is VAT with entropy minimisation, and nobody published
    # Mean Teacher + VAT (Sec. 1 leaves it open)
    "vat": MethodStyle("VAT", None, {"student": "#c9a7e0", "ema": "tab:purple"}, (0, (5, 1))),
    "mean_teacher_vat": MethodStyle("Mean Teacher + VAT", None, {"student": "#f2c28b", "ema": "tab:cyan"},
                                    (0, (3, 1, 1, 1))),
}
NAMES = {m: s.name for m, s in STYLES.items()}
PAPER_ROWS = {m: s.paper_row for m, s in STYLES.items()}
COLORS = {(m, model): c for m, s in STYLES.items() for model, c in s.colors.items()}
LINESTYLES = {m: s.linestyle for m, s in STYLES.items()}
