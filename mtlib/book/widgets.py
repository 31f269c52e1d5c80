"""A slider that works in the rendered book without a kernel.

Every value's figure is computed in advance (from real runs) and rendered to PNG; an ipywidgets
slider is linked on the client side (``jslink``) to a ``Stack`` that shows one PNG at a time. In
a live notebook the same widget works, and the saved widget state makes it work in static HTML.
"""
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt


def figure_png(fig, dpi=90):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def precomputed_slider(values, figures, description="EMA decay α", value=None):
    """A SelectionSlider over ``values`` showing ``figures[i]`` (matplotlib figures) for value i."""
    if len(values) != len(figures) or not values:
        raise ValueError(f"values ({len(values)}) and figures ({len(figures)}) must be non-empty and equal in length")
    images = [widgets.Image(value=figure_png(f), format="png") for f in figures]
    index = values.index(value) if value in values else 0
    stack = widgets.Stack(images, selected_index=index)
    slider = widgets.SelectionSlider(options=[str(v) for v in values], index=index, description=description,
                                     continuous_update=True, style={"description_width": "initial"},
                                     layout=widgets.Layout(width="420px"))
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return widgets.VBox([slider, stack])
