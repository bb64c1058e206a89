"""The key line at the bottom: the screen's shown bindings, then the command palette key.

Why not Textual's Footer: it recomposes FooterKey widgets whenever bindings change (every
screen switch and focus change), and each one is registered with `data_bind` on the Footer;
those watcher entries keep the removed widgets alive (~20 widgets per switch, measured in
benchmarks/tui_feed.py). This line is one Static re-rendered in place: nothing accumulates.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}
    # A reusable widget (the Tools screen also runs outside the app), so its look travels with it.
    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
    KeyBar > .key-bar--description { color: $footer-description-foreground; }
    KeyBar > .key-bar--disabled { color: $foreground-disabled; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.redraw)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Any) -> None:
        self.redraw()

    def redraw(self) -> None:
        key_style = self.get_component_rich_style("key-bar--key")
        desc_style = self.get_component_rich_style("key-bar--description")
        off_style = self.get_component_rich_style("key-bar--disabled")
        seen: set[str] = set()
        text = Text(no_wrap=True, overflow="ellipsis")
        palette = None
        entries = []
        for key, active in self.screen.active_bindings.items():
            if key == self.app.COMMAND_PALETTE_BINDING:
                palette = active.binding
            elif active.binding.show and active.binding.action not in seen:
                seen.add(active.binding.action)
                entries.append(active)
        # This screen's own keys first, then help, then the app's (screen switches, quit): when
        # 80 columns cannot hold everything, what gets cut is what works the same everywhere.
        entries.sort(key=lambda a: 0 if a.node is not self.app else (1 if a.binding.action == "help" else 2))
        for active in entries:
            binding = active.binding
            k_style, d_style = (key_style, desc_style) if active.enabled else (off_style, off_style)
            shown_key = self.app.get_key_display(binding)
            desc = binding.description
            if len(shown_key) == 1 and desc[:1].lower() == shown_key.lower():
                # Mnemonic: "Logs" with its L in the key style says "press l" in half the width.
                text.append(" ")
                text.append(desc[0], style=k_style)
                text.append(f"{desc[1:]} ", style=d_style)
            else:
                text.append(f" {shown_key} ", style=k_style)
                text.append(f"{desc} ", style=d_style)
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            text.append(f" {self.app.get_key_display(palette)} ", style=key_style)
            text.append("palette ", style=desc_style)
        self.update(text)
