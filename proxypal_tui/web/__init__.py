"""`proxypal-tui --web`: the same Textual app in a browser, behind a management-key login.

`bind` decides where it may listen, `access` who may see it, `server` puts textual-serve,
the login gate and the engine together.
"""
