"""Sample mode (``sample_records``): the first records of each stream, for proposing the mapping.

Only the pages the sample needs are asked for: no ``updated`` windows (whose pages are all requested at
once), no prefetch of the next stream, no bookmark. `meltano run propose-mapping` reads PracticeHub this way.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from tap_practicehub.api import PracticeHubAPI

MAX_PAGE_SIZE = 100


def first_records(api: PracticeHubAPI, path: str, limit: int) -> t.Iterator[dict]:
    """Up to ``limit`` records of the resource at ``path`` in the API's own order, following its ``next`` links."""
    page = api.get(path, {"page_size": min(limit, MAX_PAGE_SIZE)})
    sent = 0
    while True:
        for row in page.rows:
            if sent >= limit:
                return
            sent += 1
            yield row
        if sent >= limit or not page.next_url:
            return
        page = api.get(page.next_url)
