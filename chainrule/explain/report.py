"""One self-contained HTML report of the seed network: the network picture, the chain-rule
derivation, the computation graph, the training steps and the learning-rate curves. Pictures
are inline (SVG, base64 PNG) and there are no scripts or links, so it opens offline.

Examples
--------
>>> report = build_report(steps=2, lrs=(0.5,), epochs=3, pictures=False)
>>> [s.title for s in report.sections][:2]
['The network', 'The chain rule, step by step']
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainrule._atomic import write_bytes
from chainrule.explain.curves import DEFAULT_EPOCHS, DEFAULT_LRS, Sweep, sweep, sweep_rows
from chainrule.explain.graphs import (
    Graph,
    GraphvizMissingError,
    computation_graph,
    network_graph,
    number,
    svg_text,
    to_dot,
)

WEIGHT_NAMES = tuple(f"w{k}" for k in range(1, 9))


@dataclass(frozen=True)
class Section:
    """One part of the report: an id (the HTML anchor), a title, an HTML body."""

    id: str
    title: str
    body: str


@dataclass(frozen=True)
class Report:
    """The report's records: the recorded training, the pictures as graphs, the sweep, and the
    rendered sections in reading order."""

    title: str
    tutorial: Any
    network: Graph | None
    computation: Graph
    sweep: Sweep
    sections: tuple[Section, ...]


# ---- pictures as HTML ------------------------------------------------------------------------
def inline_svg(svg: str, label: str) -> str:
    """Graphviz's SVG made fit for inlining: no XML prolog or doctype, a label for screen
    readers (the page's CSS shrinks it to the column when it is wider)."""
    start = svg.index("<svg")
    head_end = svg.index(">", start)
    return svg[start:head_end] + f' role="img" aria-label="{html.escape(label)}"' + svg[head_end:]


def picture_html(graph: Graph, label: str, use_graphviz: bool = True) -> str:
    """The graph as inline SVG; without Graphviz, its DOT text and how to get pictures."""
    if use_graphviz:
        try:
            return f'<div class="picture">{inline_svg(svg_text(graph), label)}</div>'
        except GraphvizMissingError as missing:
            note = str(missing)
    else:
        note = "pictures were turned off; the graph's DOT text follows"
    return (
        f'<p class="note">{html.escape(note)}</p>'
        f'<pre class="dot">{html.escape(to_dot(graph))}</pre>'
    )


def curves_html(result: Sweep, plots: bool = True) -> str:
    """The sweep's figure as an inline PNG; without matplotlib, a note (the table follows)."""
    if not plots:
        return ""
    try:
        from chainrule.explain.curves import figure_bytes, sweep_figure

        png = figure_bytes(sweep_figure(result), "png")
    except ImportError as missing:
        return f'<p class="note">{html.escape(str(missing))}</p>'
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="figure" alt="{result.runs[0].loss} against epoch for learning rates '
        f'{", ".join(f"{run.lr:g}" for run in result.runs)}" '
        f'src="data:image/png;base64,{data}">'
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="numbers">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def steps_table(run: Any) -> str:
    """Each gradient-descent step: the error, the outputs, and the parameters after it."""
    outputs = ("a_o1", "a_o2") if run.example == "seed" else ("z",)
    header = ["step", run.loss, *outputs, *(f"{p} after" for p in run.parameters)]
    rows = [
        [
            str(step.step),
            number(step.values[run.loss]),
            *(number(step.values[key]) for key in outputs),
            *(number(step.updated[p]) for p in run.parameters),
        ]
        for step in run.steps
    ]
    return _table(header, rows, f"learning rate {run.config['lr']:g}")


def sweep_html(result: Sweep) -> str:
    header, rows = sweep_rows(result)
    mode = (
        "each rate starting from the last one's weights"
        if result.carry_weights
        else "each rate starting from the same weights"
    )
    return _table(header, rows, f"after {result.epochs} epochs, {mode}")


def derivation_html(run: Any) -> str:
    """The explainer core's HTML rendering of the tutorial (its derivation of every gradient);
    its training steps are the report's own section."""
    from chainrule.explain.render_html import render_html

    return str(render_html(run, training=False))


# ---- the report ------------------------------------------------------------------------------
def build_report(
    config: Any = None,
    *,
    steps: int = 10,
    lrs: Sequence[float] = DEFAULT_LRS,
    epochs: int = DEFAULT_EPOCHS,
    carry_weights: bool = False,
    pictures: bool = True,
    plots: bool = True,
) -> Report:
    """Run the seed network (``config``: a SeedConfig, the seed's by default) for ``steps``
    steps and a learning-rate sweep, and lay out the report. A ``OneWeightConfig`` reports
    the one-weight example (it has no network picture).

    ``pictures=False`` skips Graphviz (the DOT text is shown), ``plots=False`` matplotlib.
    """
    from chainrule.explain.seeds import (
        OneWeightConfig,
        SeedConfig,
        build_seed_network,
        seed_tutorial,
    )

    if isinstance(config, OneWeightConfig):
        return _one_weight_report(
            config,
            steps=steps,
            lrs=lrs,
            epochs=epochs,
            carry_weights=carry_weights,
            pictures=pictures,
            plots=plots,
        )
    config = config or SeedConfig()
    run = seed_tutorial(config, steps=steps)
    first = run.steps[0]
    weight_gradients = {k: v for k, v in first.gradients.items() if k in run.parameters}
    network = network_graph(first.values, weight_gradients, config.output_activation)
    start = {k: first.values[k] for k in run.parameters}
    computation = computation_graph(
        build_seed_network(config, {**_biases(config), **start}).loss,
        title="Computation graph of E_total (step 1)",
    )
    result = sweep(lrs, epochs, carry_weights=carry_weights, config=config)
    sections = (
        Section(
            "network",
            "The network",
            "<p>Inputs i1, i2; hidden neurons h1, h2 with activations a_h1, a_h2; outputs "
            "o1, o2 with activations a_o1, a_o2; the errors E1, E2 and E_total. Edges carry "
            "the weights w1..w8 with their values and, for step 1, ∂E_total/∂w.</p>"
            + picture_html(network, "the seed network", pictures),
        ),
        *_training_sections(run, steps, computation, result, "E_total", "w", pictures, plots),
    )
    return Report(
        "chainrule: the seed network, explained", run, network, computation, result, sections
    )


def _one_weight_report(
    config: Any,
    *,
    steps: int,
    lrs: Sequence[float],
    epochs: int,
    carry_weights: bool,
    pictures: bool,
    plots: bool,
) -> Report:
    from chainrule.explain.seeds import build_one_weight, one_weight_tutorial

    run = one_weight_tutorial(config, steps=steps)
    computation = computation_graph(
        build_one_weight(config, {"W": float(config.W), "b": float(config.b)}).loss,
        title="Computation graph of L (step 1)",
    )
    result = sweep(lrs, epochs, carry_weights=carry_weights, config=config)
    sections = _training_sections(run, steps, computation, result, "L", "W", pictures, plots)
    return Report(
        "chainrule: the one-weight example, explained", run, None, computation, result, sections
    )


def _training_sections(
    run: Any,
    steps: int,
    computation: Any,
    result: Any,
    loss: str,
    weight: str,
    pictures: bool,
    plots: bool,
) -> tuple[Section, ...]:
    """What both reports show after the network: the derivation, the computation graph, the
    training steps and the sweep, for a loss named ``loss`` and weights written ``weight``."""
    return (
        Section("derivation", "The chain rule, step by step", derivation_html(run)),
        Section(
            "graph",
            "The computation graph",
            f"<p>Every tensor the engine recorded (name, value, ∂{loss}/∂tensor) and every op "
            "between them, as backward() walks them in reverse.</p>"
            + picture_html(computation, "the computation graph", pictures),
        ),
        Section(
            "steps",
            "Training, step by step",
            f"<p>{steps} step{'s' if steps != 1 else ''} of gradient descent, "
            f"{weight} ← {weight} − η·∂{loss}/∂{weight}.</p>" + steps_table(run),
        ),
        Section(
            "sweep",
            "Learning rates",
            f"<p>{loss} against epoch for {len(result.runs)} learning rates, "
            f"{result.epochs} epochs each.</p>" + curves_html(result, plots) + sweep_html(result),
        ),
    )


def _biases(config: Any) -> dict[str, float]:
    if config.biases is None:
        return {}
    return {"b1": float(config.biases[0]), "b2": float(config.biases[1])}


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem 2rem 4rem; color: #111827;
       line-height: 1.5; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #e5e7eb; padding-bottom: 0.3rem; margin-top: 2.5rem; }
nav a { margin-right: 1rem; }
.picture { overflow-x: auto; border: 1px solid #e5e7eb; border-radius: 8px; padding: 0.5rem;
           background: #fff; }
.picture svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
img.figure { display: block; max-width: 100%; height: auto; margin: 1rem 0; }
table.numbers { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums;
                font-size: 0.9rem; }
table.numbers caption { text-align: left; color: #4b5563; padding-bottom: 0.3rem; }
table.numbers th, table.numbers td { border: 1px solid #d1d5db; padding: 0.2rem 0.5rem;
                                     text-align: right; }
table.numbers th { background: #f3f4f6; }
.note { color: #92400e; background: #fffbeb; border: 1px solid #fcd34d; padding: 0.5rem;
        border-radius: 6px; }
pre.dot { overflow-x: auto; background: #f9fafb; padding: 0.5rem; font-size: 0.8rem; }
.derivation { overflow-x: auto; }
.derivation .chainrule h2 { font-size: 1.15rem; border: none; margin-top: 0.5rem; }
footer { margin-top: 3rem; color: #6b7280; font-size: 0.85rem; }
"""


def render_report(report: Report) -> str:
    """The report as one HTML page: inline CSS and pictures, no scripts, no external links."""
    from chainrule import __version__

    nav = "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in report.sections)
    body = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>'
        f'<div class="{s.id}">{s.body}</div></section>'
        for s in report.sections
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head>"
        f"<body><header><h1>{html.escape(report.title)}</h1>"
        f"<p>{html.escape(report.tutorial.title)}. Every number below was computed by "
        f"chainrule's engine.</p><nav>{nav}</nav></header>{body}"
        f"<footer>Generated by chainrule {html.escape(__version__)}.</footer>"
        f"</body></html>\n"
    )


def write_report(
    path: str | Path = "chainrule-report.html", config: Any = None, **options: Any
) -> Path:
    """Build and write the report (all or nothing: a temporary file renamed into place).

    Options are :func:`build_report`'s.
    """
    text = render_report(build_report(config, **options))
    return write_bytes(path, text)
