"""Colours, markers and axes shared by every figure (the report's and the notebooks')."""

from __future__ import annotations

import numpy as np

#: one colour per architecture, the same in every figure
ARCHITECTURE_COLOURS = {
    "vanilla": "#1f77b4",
    "gru": "#d62728",
    "lstm": "#2ca02c",
    "ugrnn": "#9467bd",
    "ctrnn": "#ff7f0e",
}
PALETTE = ["#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39"]
#: one marker per activation (cells without one: circles)
ACTIVATION_MARKERS = {None: "o", "tanh": "o", "relu": "s", "sigmoid": "^", "softplus": "D"}


def colours(labels) -> dict:
    """A colour per label: architectures keep theirs; other labels take the palette in
    order of first appearance."""
    out, k = {}, 0
    for lab in dict.fromkeys(labels):
        if lab in ARCHITECTURE_COLOURS:
            out[lab] = ARCHITECTURE_COLOURS[lab]
        else:
            out[lab] = PALETTE[k % len(PALETTE)]
            k += 1
    return out


def marker(activation) -> str:
    if activation is None or (isinstance(activation, float) and np.isnan(activation)):
        return "o"
    return ACTIVATION_MARKERS.get(str(activation), "v")


def axes(ax=None, *, figsize=(4.2, 4), projection: str | None = None):
    """``(figure, ax)``: the given axes' figure, or a new figure."""
    if ax is not None:
        if projection == "3d" and getattr(ax, "name", "") != "3d":
            raise ValueError("a 3-D plot needs 3-D axes: fig.add_subplot(projection='3d').")
        return ax.figure, ax
    import matplotlib.pyplot as plt  # on first use: `import rnnscope` stays light

    fig = plt.figure(figsize=figsize)
    return fig, fig.add_subplot(projection=projection)


def numpy(x) -> np.ndarray:
    """A tensor or array as a NumPy array (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)
