"""``python -m shiftlab``: the same as the ``shiftlab`` command."""

import sys

from shiftlab.cli import main

sys.exit(main())
