"""Sandbox settings: the CLI options, the fixture arguments and what PATCH /_sandbox/config may change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RATE_SCOPES = ("account", "key")

# Settings a running sandbox accepts through PATCH /_sandbox/config.
RUNTIME_SETTINGS = frozenset(
    {
        "rate", "burst", "rate_scope", "retry_after", "unstable_paging", "fault_5xx", "fault_drop",
        "fault_slow", "slow_seconds", "url_ttl",
    }
)


class SettingsError(ValueError):
    """A setting has a value the sandbox cannot use."""


@dataclass
class SandboxSettings:
    api_keys: tuple[str, ...] = ("test-key",)
    rate: float = 1.0
    burst: int = 1
    rate_scope: str = "account"
    retry_after: bool = True
    unstable_paging: float = 0.0
    fault_5xx: float = 0.0
    fault_drop: float = 0.0
    fault_slow: float = 0.0
    slow_seconds: float = 2.0
    seed: int = 0
    url_ttl: int = 900
    timezone: str = "UTC"
    app_name: str | None = None  # when set, x-app-details must name this app

    def __post_init__(self) -> None:
        if isinstance(self.api_keys, str):
            self.api_keys = tuple(k for k in self.api_keys.split(",") if k)
        self.api_keys = tuple(self.api_keys)
        self.validate()

    def validate(self) -> None:
        if not self.api_keys or any(not k.strip() for k in self.api_keys):
            raise SettingsError("at least one non-empty API key is required")
        if not self.rate > 0:
            raise SettingsError("rate must be > 0 requests per second")
        if int(self.burst) < 1:
            raise SettingsError("burst must be >= 1")
        if self.rate_scope not in RATE_SCOPES:
            raise SettingsError(f"rate_scope must be one of {', '.join(RATE_SCOPES)}")
        for name in ("unstable_paging", "fault_5xx", "fault_drop", "fault_slow"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise SettingsError(f"{name} must be a fraction between 0 and 1")
        if self.fault_5xx + self.fault_drop + self.fault_slow > 1.0:
            raise SettingsError("fault_5xx + fault_drop + fault_slow must not exceed 1")
        if self.slow_seconds < 0:
            raise SettingsError("slow_seconds must be >= 0")
        if int(self.url_ttl) < 1:
            raise SettingsError("url_ttl must be >= 1 second")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(f"unknown time zone {self.timezone!r}") from exc

    def updated(self, changes: dict) -> SandboxSettings:
        """A copy with runtime changes applied; raises SettingsError on unknown names or bad values."""
        unknown = sorted(set(changes) - RUNTIME_SETTINGS)
        if unknown:
            raise SettingsError(f"cannot change {', '.join(unknown)} at runtime")
        return dataclasses.replace(self, **changes)

    def public(self) -> dict:
        """Settings safe to show: the API keys are replaced by their count."""
        shown = dataclasses.asdict(self)
        shown["api_keys"] = len(self.api_keys)
        return shown
