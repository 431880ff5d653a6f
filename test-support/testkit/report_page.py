"""Reads the report page with the stdlib HTML parser: figures, checks, links, scripts, charts."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class ReportPage(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metrics: dict[str, str] = {}
        self.checks: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.tags: list[str] = []
        self.body: dict[str, str] = {}
        self.text: list[str] = []
        self._open_metric: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "body":
            self.body = {key: value or "" for key, value in attributes.items()}
        if "data-check" in attributes:
            self.checks[attributes["data-check"]] = attributes.get("data-status") or ""
        if tag == "a" and "data-link" in attributes:
            self.links[attributes["data-link"]] = attributes.get("href") or ""
        if tag == "span":
            self._open_metric.append(attributes.get("data-metric"))
            if attributes.get("data-metric") is not None:
                self.metrics[attributes["data-metric"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open_metric:
            self._open_metric.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open_metric and self._open_metric[-1] is not None:
            self.metrics[self._open_metric[-1]] += data

    def number(self, name: str) -> float:
        return float(self.metrics[name].replace(",", ""))


def read_page(path: Path) -> ReportPage:
    page = ReportPage()
    page.feed(path.read_text("utf-8"))
    page.close()
    return page
