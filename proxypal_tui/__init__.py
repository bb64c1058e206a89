"""proxypal-tui: the keyboard-driven control centre that supervises the ProxyPal engine.

`proxypal_tui.core` is headless (no Textual): supervision, the event socket, the
management API client and the bounded stores. The Textual app lives beside it.
"""

__version__ = "0.1.0"
