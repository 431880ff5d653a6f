"""What an entity module may use of the run: the transformer provides it (structurally; entities never
import the transformer, which imports them)."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.convert import BadValue, Clock
    from map_practicehub_pipedrive.dedupe import Dedupe
    from map_practicehub_pipedrive.degrade import Degradations
    from map_practicehub_pipedrive.mapping import FieldRule, StreamPlan
    from map_practicehub_pipedrive.reconciliation import Reconciliation
    from map_practicehub_pipedrive.reference import Reference
    from map_practicehub_pipedrive.schemas import FieldRegistry


class RunContext(t.Protocol):
    # the run's settings and the confirmed mapping's rules
    currency: str
    date_order: str | None
    limits: dict
    clock: Clock
    custom_rules: dict[str, list[FieldRule]]
    list_rules: dict[str, list[FieldRule]]
    list_sources: dict[str, set[str]]
    # the run's memory: lookups, merges, what it skipped or already sent, what it counts
    reference: Reference
    dedupe: Dedupe
    skipped_parents: set[str]
    persons_sent: dict[str, str]
    registries: dict[str, FieldRegistry]
    reconciliation: Reconciliation
    degraded: Degradations  # the record being built

    def standard_values(self, plan: StreamPlan, record: dict) -> dict: ...

    def converters(self, out_stream: str, stream: str, rules: list[FieldRule]) -> list[tuple]: ...

    def value_problem(self, problem: BadValue, where: str, raw: object, rule: FieldRule | None = None,
                      limit: int | None = None) -> object: ...

    def organization_by_name(self, name: str | None) -> str | None: ...

    def add_pipeline(self, name: str) -> None: ...
