"""`python -m proxypal_tui.tools ARGS` runs the same commands as `proxypal-tui tools ARGS`."""

from proxypal_tui.tools.cli import main

main()
