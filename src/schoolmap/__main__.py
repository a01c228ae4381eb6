"""``python -m schoolmap`` = the ``schoolmap`` command."""

import sys

from schoolmap.run.cli import main

sys.exit(main())
