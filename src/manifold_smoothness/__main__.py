"""`python -m manifold_smoothness ...`: see manifold_smoothness.cli."""

import sys

from manifold_smoothness.cli import main

sys.exit(main())
