"""Every singer-sdk API this tap uses that the SDK does not promise to keep: in one place.

The SDK marks these private (a leading ``_``, or a ``helpers``/``_state`` module) and may change them in any
minor release. ``tap-practicehub/tests/test_sdk_compat.py`` checks each of them against the installed SDK, so an upgrade
that moves one fails there, by name, instead of somewhere in a sync. Nothing else in the package reaches
into the SDK's internals.
"""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.conform import TypeConformanceLevel

if t.TYPE_CHECKING:
    from singer_sdk import Stream, Tap

# Records are the API's JSON as parsed: nothing to convert (the tap's ``post_process`` drops unknown keys).
NO_TYPE_CONFORMANCE = TypeConformanceLevel.NONE

# The SDK internals used here, as (SDK class path, attribute, what we rely on); the test checks each one.
PRIVATE_API: tuple[tuple[str, str, str], ...] = (
    ("singer_sdk.Stream", "_tap", "the stream's tap instance, set in Stream.__init__"),
    ("singer_sdk.Stream", "_increment_stream_state", "(self, latest_record, *, context=None): called per record"),
    ("singer_sdk.Stream", "_write_state_message", "(self): writes STATE unless state_manager.is_flushed"),
    ("singer_sdk.streams._state.StreamStateManager", "is_flushed", "a bool: False makes the next STATE go out"),
    ("singer_sdk.plugin_base.PluginBase", "_validate_config", "(self, *, raise_errors=True) -> list[str]"),
    ("singer_sdk.plugin_base.PluginBase", "_config", "the mutable config dict behind Plugin.config"),
)


def tap_of(stream: Stream) -> Tap:
    """The tap a stream belongs to (the SDK keeps it in a private attribute only)."""
    return stream._tap  # noqa: SLF001


class CheckpointBookmarks:
    """Mixin for the streams: records never move the bookmark, the stream's own checkpoints do.

    PracticeHub documents no sort order, so the SDK's per-record bookmark (its private
    ``_increment_stream_state`` hook) would be wrong; the stream sets the bookmark when a window completes
    and calls ``write_state_now``.
    """

    def _increment_stream_state(self, latest_record, *, context=None) -> None:  # noqa: ANN001, ARG002
        """Records arrive unsorted, so they never move the bookmark; completed windows do."""

    def write_state_now(self) -> None:
        """Send the stream's STATE now, even if the SDK thinks nothing changed since the last one."""
        self.state_manager.is_flushed = False  # type: ignore[attr-defined]
        self._write_state_message()  # type: ignore[attr-defined]


def numbers_from_strings(config: dict, schema: dict) -> dict:
    """``config`` with number settings given as numeric strings turned into numbers.

    Meltano passes a setting of ``kind: string`` (and every ``TAP_PRACTICEHUB_*`` env var the SDK parses) as
    a string; ``kind: decimal`` from an env var crashes Meltano 4.4 itself. So number settings are declared
    ``kind: string`` and accepted here in either form. A string that is not a number is left alone: schema
    validation then names the setting.
    """
    converted = {}
    for key, value in config.items():
        types = (schema.get("properties", {}).get(key) or {}).get("type") or []
        if isinstance(value, str) and "number" in ([types] if isinstance(types, str) else types):
            try:
                converted[key] = float(value.strip())
            except ValueError:
                pass
    return {**config, **converted} if converted else config


class ValidatedConfig:
    """Mixin for the Tap: number strings become numbers, then the SDK's schema check plus the tap's own.

    The SDK validates in its private ``_validate_config``, called from ``PluginBase.__init__`` on every path
    (CLI, ``--config ENV``, tests), after files and env vars are merged into the private ``_config`` dict.
    """

    config_jsonschema: t.ClassVar[dict]

    def config_problems(self, schema_errors: list[str]) -> list[str]:
        """Every problem with the config: the SDK's schema errors (as given) plus the plugin's own."""
        return schema_errors

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        config = self._config
        config.update(numbers_from_strings(config, self.config_jsonschema))
        errors = self.config_problems(super()._validate_config(raise_errors=False))  # type: ignore[misc]
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=self.config_jsonschema)
        return errors
