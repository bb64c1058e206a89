"""`python -m proxypal_tui` runs the same program as the `proxypal-tui` script."""

from proxypal_tui.cli import main

raise SystemExit(main())
