"""``python -m schoolmap`` = the ``schoolmap`` command."""

import sys

from schoolmap.cli import main

sys.exit(main())
