"""``chainrule explore``: the worked example's network as a live page on 127.0.0.1."""

from __future__ import annotations

import argparse
from typing import Any

from chainrule.cli.common import PROG, add_network_arguments, network_options, port_number


def arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, steps=None)
    parser.add_argument(
        "--port",
        type=port_number,
        default=8765,
        help="the port on 127.0.0.1 to serve the page on (default %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="don't open a browser; just print the address"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  chainrule explore                            the 2-2-2 network, in your browser\n"
        "  chainrule explore --example one-weight       W = 0.5, x = 1, y = 0\n"
        "  chainrule explore --port 0 --no-browser      any free port; print the address\n"
        "Ctrl-C stops the server."
    )


def run(args: argparse.Namespace) -> int:
    import webbrowser

    from chainrule.explain.seeds import OneWeightConfig, SeedConfig, build_one_weight
    from chainrule.explorer import ExplorerServer, GraphSession, SeedSession

    example, options = network_options(args)
    if example == "one-weight":
        config = OneWeightConfig(**options)
        net = build_one_weight(config, {"W": config.W, "b": config.b})
        session: Any = GraphSession(net.loss, net.parameters, config.lr)
    else:
        session = SeedSession(SeedConfig(**options))
    server = ExplorerServer(session, args.port)
    print(f"{PROG} explore: serving {server.url}  (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    server.serve_forever()
    print(f"{PROG} explore: stopped", flush=True)
    return 0
