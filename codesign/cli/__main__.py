"""`python -m codesign.cli` runs the command line (the same as the `codesign` script)."""
import sys

from codesign.cli import main

sys.exit(main())
