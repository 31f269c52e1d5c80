"""``python -m mtlib.reproduce``: see mtlib.reproduce.cli."""
import sys

from mtlib.reproduce.cli import main

sys.exit(main())
