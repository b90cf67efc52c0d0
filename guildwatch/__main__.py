"""``python -m guildwatch``: the same as the ``guildwatch`` command."""

import sys

from guildwatch.cli.main import main

sys.exit(main())
