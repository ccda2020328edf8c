"""``chainrule graph``: pictures of the seed network and of its computation graph (Graphviz)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chainrule.cli.common import (
    PROG,
    CLIError,
    add_network_arguments,
    dumps_strict,
    network_options,
    seed_config,
)


def arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=None)
    parser.add_argument(
        "--which",
        choices=("network", "computation"),
        nargs="+",
        default=["network", "computation"],
        help="the network picture (neurons, weights w1..w8) and/or the "
        "computation graph (ops, tensors with value and gradient); "
        "default both (the one-weight example has no network picture)",
    )
    parser.add_argument(
        "--format",
        choices=("svg", "png", "pdf"),
        nargs="+",
        default=["svg", "png"],
        help="picture formats besides the .dot text (default: svg png)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="chainrule",
        metavar="PREFIX",
        help="file-name prefix (default: chainrule, writing "
        "chainrule-network.svg, chainrule-graph.svg, ...); a directory (or a path "
        "ending in /) writes chainrule-network.svg, ... inside it",
    )
    parser.add_argument("--json", action="store_true", help="print the written paths as JSON")


def graph_pictures(args: argparse.Namespace, which: Sequence[str]) -> dict[str, Any]:
    """The pictures asked for, as Graph records: the network with step 1's values and weight
    gradients, and the computation graph of the loss at the starting weights."""
    from chainrule.explain import graphs
    from chainrule.explain.seeds import (
        WEIGHT_NAMES,
        OneWeightConfig,
        build_one_weight,
        build_seed_network,
        tutorial,
    )

    example, options = network_options(args)
    pictures = {}
    if "network" in which:
        first = tutorial(example, explain=False, **options).steps[0]
        weights = [k for k in first.gradients if k in WEIGHT_NAMES or k in ("b1", "b2")]
        pictures["network"] = graphs.network_graph(
            first.values, {k: first.gradients[k] for k in weights}, options["output_activation"]
        )
    if "computation" in which:
        if example == "seed":
            config = seed_config(args, "graph")
            start = dict(zip(WEIGHT_NAMES, config.weights, strict=True))
            start.update(zip(("b1", "b2"), config.biases or (), strict=False))
            loss = build_seed_network(config, start).loss
        else:
            one = OneWeightConfig(**options)
            loss = build_one_weight(one, {"W": one.W, "b": one.b}).loss
        pictures["graph"] = graphs.computation_graph(loss)
    return pictures


def run(args: argparse.Namespace) -> int:
    from chainrule.explain import graphs

    which = list(dict.fromkeys(args.which))
    if getattr(args, "example", "seed") == "one-weight" and "network" in which:
        if args.which != ["network", "computation"]:
            raise CLIError(
                "the network picture is of the 2-2-2 network; the one-weight example "
                "has only --which computation"
            )
        which = ["computation"]
    prefix = Path(args.output)
    if str(args.output).endswith(("/", os.sep)) or prefix.is_dir():
        prefix = prefix / PROG
    if not (prefix.parent if str(prefix.parent) else Path(".")).is_dir():
        raise CLIError(f"can't write {prefix}-*: the directory {prefix.parent} does not exist")
    written: list[str] = []
    problem = None
    for kind, picture in graph_pictures(args, which).items():
        try:
            written += map(str, graphs.render(picture, f"{prefix}-{kind}", args.format))
        except graphs.GraphvizMissingError:
            written.append(f"{prefix}-{kind}.dot")
            problem = graphs.GRAPHVIZ_MISSING
    if args.json:
        print(dumps_strict({"written": written, "error": problem}))
    else:
        for path in written:
            print(f"wrote {path}")
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 1
    return 0
