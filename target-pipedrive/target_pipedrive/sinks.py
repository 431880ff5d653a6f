"""The SDK's side of the load: one thin sink per stream that hands its batches to the run's `Loader`.

A sink knows nothing of Pipedrive: entities.py says how a record becomes a request, loader.py runs the load.
"""

from __future__ import annotations

from singer_sdk.sinks import BatchSink

from target_pipedrive.contract import DEPENDENCY_ORDER
from target_pipedrive.sdk_compat import active_sink, retired_sinks
from target_pipedrive.validation import ContractCheckedSink
from target_pipedrive.values import plain


class PipedriveSink(ContractCheckedSink, BatchSink):
    """Base sink: registers its stream's SCHEMA with the loader and hands each batch over."""

    # Small batches: records reach the loader soon after they arrive, so loading overlaps extraction
    # (the loader queues each batch's writes and returns; `batch_size_rows` overrides this).
    MAX_SIZE_DEFAULT = 200

    def __init__(self, target, *args, **kwargs) -> None:
        self._target = target  # the SDK keeps no reference; the loader lives on the target
        super().__init__(target, *args, **kwargs)
        self.schema = target.contract.prepare_schema(self.stream_name, self.schema)  # + settings' declarations

    @property
    def loader(self):
        return self._target.loader

    def setup(self) -> None:
        self.loader.register(self.stream_name, self.schema)

    def process_record(self, record: dict, context: dict) -> None:
        record = self._target.contract.admit(self, plain(record))
        if record is None:
            return  # it breaks the input contract: skipped with its reasons (validation.py)
        self.note_received()
        context.setdefault("records", []).append(record)

    def note_received(self) -> None:
        self.loader.note_received(self.stream_name)

    def process_batch(self, context: dict) -> None:
        self._draining = True
        try:
            self._drain_parents_first()
            self.loader.load(self.stream_name, context.get("records", []))
        finally:
            self._draining = False

    def _drain_parents_first(self) -> None:
        """Hand the loader the parents still buffered in other sinks (a stream's first few records never fill a
        batch), and records of sinks a new SCHEMA retired, so children do not wait for the end of the input."""
        target = self._target
        for sink in retired_sinks(target):
            if sink.current_size and not getattr(sink, "_draining", False):
                target.drain_one(sink)
        if self.stream_name not in DEPENDENCY_ORDER:
            return
        for stream in DEPENDENCY_ORDER[: DEPENDENCY_ORDER.index(self.stream_name)]:
            sink = active_sink(target, stream)
            if sink is not None and sink.current_size and not getattr(sink, "_draining", False):
                target.drain_one(sink)


class SkippedSink(PipedriveSink):
    """The mapper's own skip list: appended to the skip file with origin `transform`."""

    def process_batch(self, context: dict) -> None:
        self.loader.record_transform_skips(context.get("records", []))


class DegradedSink(PipedriveSink):
    """The mapper's field-level degradations: appended to degraded.jsonl (the record itself landed)."""

    def process_batch(self, context: dict) -> None:
        self.loader.record_degradations(context.get("records", []))


SINKS: dict[str, type[PipedriveSink]] = {
    **dict.fromkeys(DEPENDENCY_ORDER, PipedriveSink),
    "skipped": SkippedSink,
    "degraded": DegradedSink,
}
