"""Note HTML as Pipedrive keeps it: compare what we sent with what came back, sanitising aside.

Pipedrive strips active content from note HTML (script, style and iframe elements, ``on*`` event
handlers). A note whose only difference is that stripping landed correctly, so verify compares the
two as sequences of visible markup and text with active content removed.
"""

from __future__ import annotations

from html.parser import HTMLParser

ACTIVE_ELEMENTS = {"script", "style", "iframe"}


class _VisibleMarkup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple] = []
        self._inside_active = 0

    def handle_starttag(self, tag, attrs):
        if tag in ACTIVE_ELEMENTS:
            self._inside_active += 1
        elif not self._inside_active:
            kept = tuple(sorted((name, value or "") for name, value in attrs if not name.startswith("on")))
            self.tokens.append(("start", tag, kept))

    def handle_startendtag(self, tag, attrs):
        if tag not in ACTIVE_ELEMENTS and not self._inside_active:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag in ACTIVE_ELEMENTS:
            self._inside_active = max(0, self._inside_active - 1)
        elif not self._inside_active:
            self.tokens.append(("end", tag))

    def handle_data(self, data):
        if not self._inside_active and data:
            if self.tokens and self.tokens[-1][0] == "text":
                self.tokens[-1] = ("text", self.tokens[-1][1] + data)
            else:
                self.tokens.append(("text", data))


def visible_markup(html: str) -> list[tuple]:
    parser = _VisibleMarkup()
    parser.feed(html)
    parser.close()
    return [
        (kind, " ".join(rest[0].split())) if kind == "text" else (kind, *rest)
        for kind, *rest in parser.tokens
    ]


def same_note_html(sent: str, actual: str) -> bool:
    """True when ``actual`` is ``sent`` or ``sent`` with its active content stripped."""
    if sent == actual:
        return True
    if not isinstance(sent, str) or not isinstance(actual, str):
        return False
    return visible_markup(sent) == visible_markup(actual)
