"""`python -m controller` is the `printloop` command."""
import sys

from controller.cli import main

sys.exit(main())
