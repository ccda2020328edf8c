"""The training curves: loss and accuracy per epoch, as a matplotlib figure."""

from __future__ import annotations

from typing import Any

from chainrule.train.history import History


def history_figure(history: History, title: str | None = None) -> Any:
    """A matplotlib Figure: loss (left) and accuracy (right) per epoch, train and test."""
    from chainrule.explain.curves import MATPLOTLIB_MISSING

    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(MATPLOTLIB_MISSING) from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in history.epochs]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for axes, key, label in ((left, "loss", "cross-entropy loss"), (right, "accuracy", "accuracy")):
        for part, style in (("train", "-"), ("test", "--")):
            values = [getattr(r, f"{part}_{key}") for r in history.epochs]
            axes.plot(
                epochs,
                values,
                style,
                marker="o" if len(epochs) <= 30 else None,
                markersize=3,
                linewidth=1.8,
                label=part,
            )
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(True, alpha=0.3)
        axes.legend()
    left.set_yscale("log")
    config = history.config
    name = str(config.get("model", "model")).upper()
    figure.suptitle(
        title
        or (
            f"{name} ({history.parameters:,} parameters) on "
            f"{config.get('dataset', 'data')}: final test accuracy "
            f"{100 * history.final.test_accuracy:.2f} %"
        )
    )
    figure.tight_layout()
    return figure
