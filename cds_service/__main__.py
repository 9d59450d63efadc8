"""``python -m cds_service``: the command line."""

import sys

from cds_service.cli import main

sys.exit(main())
