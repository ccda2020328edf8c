"""``chainrule gradcheck``: a model's or an op's gradients against finite differences."""

from __future__ import annotations

import argparse
import sys

from chainrule.cli.common import (
    CLIError,
    dumps_strict,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)


def arguments(parser: argparse.ArgumentParser) -> None:
    from chainrule.gradcheck_report import ATOL, EPS, MODELS, OPS, RTOL

    parser.add_argument(
        "--model",
        choices=MODELS,
        default=None,
        help="mlp (default): a float64 64-32-10 tanh MLP, every parameter, "
        "every element; cnn: the digits CNN of 'chainrule train --model "
        "cnn', --max-elements random elements of each parameter",
    )
    parser.add_argument(
        "--op",
        choices=OPS,
        metavar="NAME",
        help="check one op instead of a model, each input element by element "
        "(random float64 inputs, random upstream gradient); one of: " + ", ".join(OPS),
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=8,
        metavar="N",
        help="digits samples in the model's loss (default 8)",
    )
    parser.add_argument(
        "--max-elements",
        type=positive_int,
        metavar="N",
        help="check at most N random elements per parameter (default: all for "
        "the mlp and ops, 32 for the cnn)",
    )
    parser.add_argument(
        "--eps", type=positive_float, default=EPS, help=f"finite-difference step (default {EPS:g})"
    )
    parser.add_argument(
        "--rtol",
        type=nonnegative_float,
        default=RTOL,
        help=f"relative tolerance (default {RTOL:g})",
    )
    parser.add_argument(
        "--atol",
        type=nonnegative_float,
        default=ATOL,
        help=f"absolute tolerance (default {ATOL:g}); an element passes when "
        "|analytic - numeric| <= atol + rtol*|numeric|",
    )
    parser.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seeds the weights, inputs and chosen elements (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "exit status: 0 when every parameter passes, 1 when some fail, 2 for bad arguments.\n\n"
        "examples:\n"
        "  chainrule gradcheck                   every weight of a small MLP on digits samples\n"
        "  chainrule gradcheck --model cnn\n"
        "  chainrule gradcheck --op conv2d --json"
    )


def run(args: argparse.Namespace) -> int:
    from chainrule.gradcheck_report import model_report, op_report

    if args.op is not None and (args.model is not None or args.samples != 8):
        raise CLIError("--op checks one op on random inputs; --model and --samples are for models")
    try:
        if args.op is not None:
            report = op_report(
                args.op,
                eps=args.eps,
                rtol=args.rtol,
                atol=args.atol,
                seed=args.seed,
                max_elements=args.max_elements,
            )
        else:
            report = model_report(
                args.model or "mlp",
                samples=args.samples,
                eps=args.eps,
                rtol=args.rtol,
                atol=args.atol,
                max_elements=args.max_elements,
                seed=args.seed,
            )
    except ImportError as missing:
        raise CLIError(str(missing)) from None
    if args.json:
        print(dumps_strict(report.to_dict()))
    else:
        sys.stdout.write(report.to_text())
    return 0 if report.passed else 1
