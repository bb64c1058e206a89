"""Point the user's coding tools at ProxyPal: detect them, merge settings safely, show diffs, undo.

Entry points: `pointing.apply/undo/status` (pure functions of HOME, port, key and
models), `cli.tools_main` (`proxypal-tui tools ...`) and `screen.ToolsScreen`.
"""
