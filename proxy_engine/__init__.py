"""ProxyPal engine: the headless gateway process (never imports Textual)."""

__version__ = "0.1.0"
