"""The TUI's headless core: no Textual imports here (a test enforces it).

Everything that talks to processes, sockets, HTTP or files lives here so it can be
tested and reused without a terminal; the app turns its results into Messages.
"""
