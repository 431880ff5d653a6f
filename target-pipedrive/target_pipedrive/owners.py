"""Owner e-mail → Pipedrive user id, with the configured fallback owner."""

from __future__ import annotations

import threading

from target_pipedrive.client import PipedriveClient, PipedriveError


class ConfigurationError(Exception):
    """Something in the config makes the load unsafe: stop before any write."""


class Owners:
    """Resolves owners against `GET /v1/users` (one call, cached) and remembers the unmatched ones."""

    def __init__(self, users: list[dict], fallback_owner_email: str | None) -> None:
        self.by_email = {
            str(user["email"]).strip().lower(): int(user["id"])
            for user in users
            if user.get("email") and user.get("active_flag", True) is not False
        }
        if not fallback_owner_email:
            raise ConfigurationError(
                "fallback_owner_email is not set: records whose owner is unknown need a Pipedrive user to land under"
            )
        fallback = self.by_email.get(fallback_owner_email.strip().lower())
        if fallback is None:
            raise ConfigurationError(
                f"fallback_owner_email {fallback_owner_email!r} is not an active user of this Pipedrive company"
            )
        self.fallback_email = fallback_owner_email
        self.fallback_id = fallback
        self.unmatched: dict[tuple, dict] = {}
        self._lock = threading.Lock()

    @classmethod
    def fetch(cls, client: PipedriveClient, fallback_owner_email: str | None) -> Owners:
        try:
            users = client.get("/users", version="v1").get("data") or []
        except PipedriveError as exc:
            if exc.status in (401, 403):
                raise ConfigurationError(
                    f"api_token was rejected by Pipedrive (HTTP {exc.status}): check api_token and that"
                    " base_url/company_domain point at the company it belongs to"
                ) from None
            raise
        return cls(users, fallback_owner_email)

    def lookup(self, email: str | None) -> int | None:
        return self.by_email.get(email.strip().lower()) if email else None

    def resolve(self, record: dict, stream: str) -> int:
        user_id = self.lookup(record.get("owner_email"))
        if user_id is not None:
            return user_id
        key = (record.get("owner_email"), record.get("owner_source_id"))
        with self._lock:
            entry = self.unmatched.setdefault(
                key,
                {
                    "owner_email": record.get("owner_email"),
                    "owner_name": record.get("owner_name"),
                    "owner_source_id": record.get("owner_source_id"),
                    "assigned_to": self.fallback_email,
                    "records": {},
                },
            )
            entry["records"][stream] = entry["records"].get(stream, 0) + 1
        return self.fallback_id

    def report(self) -> list[dict]:
        return sorted(self.unmatched.values(), key=lambda e: (str(e["owner_email"]), str(e["owner_source_id"])))
