"""The explorer: a local page where a learner edits any number of a network and watches every
derivative change. ``chainrule explore`` serves the worked example's 2-2-2 network;
:func:`explore` serves your own graph (anything :func:`chainrule.explain` can derive).

Examples
--------
>>> import chainrule as cr
>>> from chainrule.explorer import explore
>>> W = cr.name(cr.tensor(0.5, dtype=cr.float64, requires_grad=True), "W")
>>> L = cr.name((W * 2.0 - 1.0) ** 2, "L")
>>> server = explore(L, open_browser=False, block=False)  # serves from a thread
>>> server.url.startswith("http://127.0.0.1:")
True
>>> server.close()
"""

from __future__ import annotations

import webbrowser
from typing import Any

from chainrule.explorer.server import ExplorerServer
from chainrule.explorer.sessions import GraphSession, SeedSession

__all__ = ["ExplorerServer", "GraphSession", "SeedSession", "explore", "serve"]


def serve(session: Any, port: int = 0, open_browser: bool = True, block: bool = True) -> Any:
    """Serve ``session`` on 127.0.0.1; ``block``: until Ctrl-C, else from a thread (returns
    the server: ``.url``, ``.close()``)."""
    server = ExplorerServer(session, port)
    if open_browser:
        webbrowser.open(server.url)
    if not block:
        return server.start()
    server.serve_forever()
    return server


def explore(
    loss: Any,
    params: Any = None,
    lr: float = 0.1,
    port: int = 0,
    open_browser: bool = True,
    block: bool = True,
) -> Any:
    """Open the explorer on ``loss``'s graph: its named inputs and parameters' elements are the
    numbers to edit (``params`` as for :func:`chainrule.explain`), ``lr`` the step size.

    In a notebook pass ``block=False``: the page is served from a thread and the server is
    returned (``server.close()`` stops it).
    """
    return serve(GraphSession(loss, params, lr), port, open_browser, block)
