"""Pages of a list response, with optional unstable paging (rows repeated from a neighbouring page)."""

from __future__ import annotations

import random
from urllib.parse import urlencode

MAX_PAGE_SIZE = 100


def _positive_int(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def page_params(page: str | None, page_size: str | None) -> tuple[int, int]:
    """1-based page and page size; page_size above the maximum is silently capped, junk means default."""
    return _positive_int(page, 1), min(_positive_int(page_size, MAX_PAGE_SIZE), MAX_PAGE_SIZE)


def page_rows(
    rows: list[dict], page: int, page_size: int, *, unstable: float, seed: int, resource: str
) -> tuple[list[dict], int]:
    """The rows of one page and how many rows were repeated into it from a neighbouring page."""
    start = (page - 1) * page_size
    chunk = rows[start : start + page_size]
    if not chunk or unstable <= 0:
        return chunk, 0
    draw = random.Random(f"unstable:{seed}:{resource}:{page}:{page_size}:{len(rows)}")
    if draw.random() >= unstable:
        return chunk, 0
    neighbour = rows[start - page_size : start] if page > 1 else rows[start + page_size : start + 2 * page_size]
    if not neighbour:
        return chunk, 0
    repeated = draw.sample(neighbour, draw.randint(1, max(1, min(len(neighbour), page_size // 5, 10))))
    served = list(chunk)
    for row in repeated:
        served.insert(draw.randint(0, len(served)), row)
    return served, len(repeated)


def page_links(base_url: str, params: list[tuple[str, str]], page: int, page_size: int, total: int) -> dict:
    """Absolute self/previous/next links that keep the caller's filters; next is None on the last page."""
    kept = [(k, v) for k, v in params if k not in ("page", "page_size")]

    def link(number: int) -> str:
        return f"{base_url}?{urlencode([*kept, ('page', number), ('page_size', page_size)])}"

    last_page = max(1, -(-total // page_size))
    return {
        "self": link(page),
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < last_page else None,
    }
