"""Every singer-sdk API this target uses that the SDK does not promise to keep: in one place.

The SDK marks these private (a leading ``_``) and may change them in any minor release.
``target-pipedrive/tests/test_sdk_compat.py`` checks each of them against the installed SDK, so an upgrade that moves
one fails there, by name, instead of in the middle of a load. Nothing else in the package should reach
into the SDK's internals (``sinks.py`` still reads the two sink lists directly: use ``retired_sinks`` /
``active_sink`` there too).
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from singer_sdk import Sink, Target

# The SDK internals used here, as (SDK class path, attribute, what we rely on); the test checks each one.
PRIVATE_API: tuple[tuple[str, str, str], ...] = (
    ("singer_sdk.target_base.Target", "_sinks_active", "dict stream name -> the stream's current Sink"),
    ("singer_sdk.target_base.Target", "_sinks_to_clear", "list of Sinks a later SCHEMA retired, not yet drained"),
    ("singer_sdk.target_base.Target", "_write_state_message", "(self, state: dict): emits STATE after a drain"),
    ("singer_sdk.plugin_base.PluginBase", "_validate_config", "(self, *, raise_errors=True) -> list[str]"),
    ("singer_sdk.plugin_base.PluginBase", "_config", "the mutable config dict behind Plugin.config"),
)


def retired_sinks(target: Target) -> list[Sink]:
    """Sinks a new SCHEMA message replaced whose records have not been drained yet (a copy)."""
    return list(target._sinks_to_clear)  # noqa: SLF001


def active_sink(target: Target, stream_name: str) -> Sink | None:
    """The sink currently receiving ``stream_name``'s records, if any."""
    return target._sinks_active.get(stream_name)  # noqa: SLF001


def active_sinks(target: Target) -> list[Sink]:
    """Every sink currently receiving records, in the order their streams first arrived."""
    return list(target._sinks_active.values())  # noqa: SLF001


def numbers_from_strings(config: dict, schema: dict) -> dict:
    """``config`` with number settings given as numeric strings turned into numbers.

    Meltano passes a setting of ``kind: string`` (and every ``TARGET_PIPEDRIVE_*`` env var the SDK parses)
    as a string; ``kind: decimal`` from an env var crashes Meltano 4.4 itself. So number settings are
    declared ``kind: string`` and accepted here in either form. A string that is not a number is left
    alone: schema validation then names the setting.
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


class TargetHooks:
    """Mixin for the Target: the two private SDK hooks it overrides, behind public methods of our own."""

    config_jsonschema: t.ClassVar[dict]

    def state_message_ready(self) -> bool:
        """Whether the STATE the SDK is about to emit may go out now (it is dropped otherwise)."""
        return True

    def _write_state_message(self, state: dict) -> None:
        if self.state_message_ready():
            super()._write_state_message(state)  # type: ignore[misc]

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check, after number strings become numbers (files and env vars alike: the SDK
        merges both into ``_config`` before it validates, on every path)."""
        config = self._config
        config.update(numbers_from_strings(config, self.config_jsonschema))
        return super()._validate_config(raise_errors=raise_errors)  # type: ignore[misc]
