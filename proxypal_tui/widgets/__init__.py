"""Widgets of the ProxyPal TUI, one concept per module."""
