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

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        key_style = self.get_component_rich_style("key-bar--key")
        desc_style = self.get_component_rich_style("key-bar--description")
        off_style = self.get_component_rich_style("key-bar--disabled")
        seen: set[str] = set()
        palette = None
        entries = []
        for key, active in self.screen.active_bindings.items():
            if key == self.app.COMMAND_PALETTE_BINDING:
                palette = active.binding
            elif active.binding.show and active.binding.action not in seen:
                seen.add(active.binding.action)
                entries.append(active)
        # This screen's own keys first, then help, the screen switches, quit and the palette. When the
        # width cannot hold everything the screen switches go first (they work the same everywhere and
        # help lists them), then the palette key; the screen's own keys, help and quit stay readable.
        entries.sort(key=_rank(self.app))
        parts = [(a, self._entry(a, key_style, desc_style, off_style)) for a in entries]
        tail = Text(no_wrap=True)
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            tail.append(f" {self.app.get_key_display(palette)} ", style=key_style)
            tail.append("palette ", style=desc_style)
        width = self.size.width or self.app.size.width
        if sum(t.cell_len for _, t in parts) + tail.cell_len > width:
            parts = [(a, t) for a, t in parts if not _switches_screen(a.binding)]
        if sum(t.cell_len for _, t in parts) + tail.cell_len > width:
            tail = Text()  # still too narrow: ctrl+p is named in help and on the dashboard
        text = Text(no_wrap=True, overflow="ellipsis")
        for _, part in parts:
            text.append_text(part)
        text.append_text(tail)
        self.update(text)

    def _entry(self, active: Any, key_style: Any, desc_style: Any, off_style: Any) -> Text:
        binding = active.binding
        k_style, d_style = (key_style, desc_style) if active.enabled else (off_style, off_style)
        shown_key = self.app.get_key_display(binding)
        desc = binding.description
        out = Text(no_wrap=True)
        if len(shown_key) == 1 and desc[:1].lower() == shown_key.lower():
            # Mnemonic: "Logs" with its L in the key style says "press l" in half the width.
            out.append(" ")
            out.append(desc[0], style=k_style)
            out.append(f"{desc[1:]} ", style=d_style)
        else:
            out.append(f" {shown_key} ", style=k_style)
            out.append(f"{desc} ", style=d_style)
        return out


def _switches_screen(binding: Any) -> bool:
    return str(binding.id or "").startswith("screen.")


def _rank(app: Any) -> Any:
    def rank(active: Any) -> int:
        if active.node is not app:
            return 0
        if active.binding.action == "help":
            return 1
        return 2 if _switches_screen(active.binding) else 3

    return rank
