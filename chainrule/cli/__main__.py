"""``python -m chainrule.cli``: the same command line as the ``chainrule`` script."""

import sys

from chainrule.cli import main

if __name__ == "__main__":
    sys.exit(main())
