"""`python -m apps.alpaca_sim`: the simulator in the foreground."""

import sys

from apps.alpaca_sim.cli import main

sys.exit(main())
