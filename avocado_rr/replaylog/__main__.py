"""``python -m avocado_rr.replaylog LOG``: same as ``avocado-rr dump``."""

import sys

from avocado_rr.replaylog.dumpcli import main

sys.exit(main())
