"""The explainer on a real network: a 4-16-16-1 tanh MLP, batch 8, MSE loss (the case that once
printed 26,190 text lines, 6.2 MB of HTML and 16.8 MB of JSON in 2.6 s).

Times ``explain(loss, model)`` and each renderer (median of ``--repeat`` runs), measures the
outputs, and exits 1 when one is over its bound, so a regression in size or time shows here and
not as a flaky timed test.

    python benchmarks/explain_size.py                 # table, 5 repetitions
    python benchmarks/explain_size.py --json          # the same as JSON
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.explain import explain, render_html, render_json, render_text  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

# bounds: a readable explanation, well under a second on a shared 2-core machine
BOUNDS = {"text_lines": 400, "html_bytes": 200_000, "json_bytes": 600_000, "seconds": 1.0}


def mlp_loss() -> tuple[Any, Any]:
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)
    )
    X, y = cr.randn(8, 4), cr.randn(8, 1)
    return model, F.mse_loss(model(X), y)


def measure(repeat: int) -> dict[str, Any]:
    model, loss = mlp_loss()
    times: dict[str, list[float]] = {"explain": [], "text": [], "html": [], "json": []}
    for _ in range(repeat):
        start = time.perf_counter()
        e = explain(loss, model)
        times["explain"].append(time.perf_counter() - start)
        outputs = {}
        for key, render in (
            ("text", lambda record: render_text(record, color=False)),
            ("html", render_html),
            ("json", render_json),
        ):
            start = time.perf_counter()
            outputs[key] = render(e)
            times[key].append(time.perf_counter() - start)
        text, page, data = outputs["text"], outputs["html"], outputs["json"]
    medians = {key: statistics.median(values) for key, values in times.items()}
    result = {
        "text_lines": text.count("\n"),
        "html_bytes": len(page.encode()),
        "json_bytes": len(data.encode()),
        "seconds": sum(medians.values()),
        "median_seconds": medians,
        "levels": {d.parameter: d.level for d in e},
        "agrees": e.agrees,
    }
    result["over"] = [key for key, bound in BOUNDS.items() if result[key] > bound]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/explain_size.py", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs to take the median of")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    result = measure(args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("explain(loss, model) on a 4-16-16-1 MLP, batch 8")
        for key, bound in BOUNDS.items():
            value = result[key]
            shown = f"{value:.3f}" if isinstance(value, float) else f"{value:,}"
            mark = "over the bound" if key in result["over"] else "ok"
            print(f"  {key:<11} {shown:>10}   bound {bound:,}   {mark}")
        print("  levels      " + ", ".join(f"{k}: {v}" for k, v in result["levels"].items()))
    return 1 if result["over"] or not result["agrees"] else 0


if __name__ == "__main__":
    sys.exit(main())
