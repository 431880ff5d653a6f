"""tap-practicehub: settings and the stream list."""

from __future__ import annotations

import contextlib
import sys
import threading
import typing as t
from concurrent.futures import Future

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_practicehub import settings
from tap_practicehub.api import AuthenticationError, Page, PracticeHubAPI
from tap_practicehub.output import BufferedWriter
from tap_practicehub.privacy import private_outputs
from tap_practicehub.sdk_compat import ValidatedConfig
from tap_practicehub.streams import ASSUMED_STREAMS, STREAM_TYPES

if t.TYPE_CHECKING:
    from tap_practicehub.client import PracticeHubStream, WindowStart

# Same convention as target-pipedrive: 2 = fix a setting (wrong config, refused API key or app details).
EXIT_CONFIG = 2
PREFETCH_STREAMS = 2  # one-page streams can go by faster than one answer comes back


@contextlib.contextmanager
def _setting_errors_exit_cleanly() -> t.Iterator[None]:
    """A wrong setting gets its one-line message and exit 2: the SDK's traceback would bury the fix."""
    try:
        yield
    except ConfigValidationError as exc:
        sentences = " ".join(error if error.endswith(".") else f"{error}." for error in exc.errors)
        print(f"{TapPracticeHub.name} cannot start: {sentences or exc}", file=sys.stderr)
        raise click.exceptions.Exit(EXIT_CONFIG) from None
    except AuthenticationError as exc:
        print(f"{TapPracticeHub.name} stopped: {exc}", file=sys.stderr)
        raise click.exceptions.Exit(EXIT_CONFIG) from None


class TapPracticeHub(ValidatedConfig, Tap):
    """Singer tap for the PracticeHub practice-management API."""

    name = "tap-practicehub"
    message_writer_class = BufferedWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_keys",
            th.ArrayType(th.StringType),
            required=True,
            secret=True,
            description="One or more PracticeHub API keys for the account (Settings → Developers). "
            "Several keys are used in parallel where each has its own limit (see `rate_limit_scope`).",
        ),
        th.Property(
            "app_details",
            th.StringType,
            required=True,
            description="Sent as `x-app-details`: `<app name>=<contact email>`.",
        ),
        th.Property(
            "account_domain",
            th.StringType,
            description="First part of the host you log in at: `demo` for https://demo.neptune.practicehub.io.",
        ),
        th.Property(
            "region",
            th.StringType,
            description=f"Second part of that host; one of {', '.join(settings.REGIONS)}.",
        ),
        th.Property(
            "base_url",
            th.StringType,
            description="Full API root instead of account_domain + region (e.g. the local sandbox, "
            "http://127.0.0.1:PORT/api).",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Read only records updated at or after this instant (first run; later runs use state).",
        ),
        th.Property(
            "timezone",
            th.StringType,
            default="UTC",
            description="The account's time zone (IANA name): PracticeHub datetimes are naive local times.",
        ),
        th.Property("page_size", th.IntegerType, default=100, description="Rows per page, 1 to 100."),
        th.Property(
            "requests_per_second",
            th.NumberType,
            default=1.0,
            description="Allowed requests per second per rate limit (per key, or per account where the keys "
            "share one: `rate_limit_scope`); the tap paces itself to stay under it.",
        ),
        th.Property(
            "rate_limit_scope",
            th.StringType,
            default="auto",
            description="Whose limit `requests_per_second` is: `key` (each key its own, keys used in parallel), "
            "`account` (the keys share one, paced together) or `auto` (start in parallel, pace the keys "
            "together once a refusal shows they share one).",
        ),
        th.Property(
            "pacing_margin",
            th.NumberType,
            default=0.02,
            description="Extra spacing between requests as a fraction of the interval, to absorb clock jitter.",
        ),
        th.Property(
            "window_records",
            th.IntegerType,
            default=5000,
            description="Target records per `updated` window; each completed window is a resumable checkpoint.",
        ),
        th.Property(
            "verify_filters",
            th.BooleanType,
            default=True,
            description="Fail loudly when PracticeHub returns rows outside the requested `updated` filter.",
        ),
        th.Property(
            "download_files",
            th.BooleanType,
            default=False,
            description="Download each attachment through its pre-signed URL into `files_dir`.",
        ),
        th.Property(
            "files_dir",
            th.StringType,
            default="output/files",
            description="Where downloaded attachments are saved (`<id>-<file name>`).",
        ),
        th.Property(
            "sample_records",
            th.IntegerType,
            description="Sample mode: read at most this many records per stream (the first pages, no "
            "`updated` windows, no bookmark), for proposing the mapping. Unset or 0: read everything.",
        ),
        th.Property(
            "assumed_resources",
            th.ArrayType(th.StringType),
            default=[],
            description="Resources PracticeHub publishes no endpoint description for, read only when listed "
            f"here: {', '.join(sorted(ASSUMED_STREAMS))} (RESOURCES.md marks them assumed; check them "
            "against your account's endpoint document first).",
        ),
        th.Property(
            "request_timeout", th.NumberType, default=60, description="Seconds before a request times out."
        ),
        th.Property(
            "max_retries", th.IntegerType, default=8, description="Retries per request on 429, 5xx, drops."
        ),
        th.Property(
            "retry_base_seconds",
            th.NumberType,
            default=1.0,
            description="First back-off delay when no Retry-After is sent; doubles per retry, with jitter.",
        ),
    ).to_dict()

    def __init__(self, *args, **kwargs) -> None:
        self._api: PracticeHubAPI | None = None
        self._api_lock = threading.Lock()
        self._prefetched: dict[str, WindowStart] = {}
        super().__init__(*args, **kwargs)

    def config_problems(self, schema_errors: list[str]) -> list[str]:
        # JSON-schema messages quote the wrong value, and for `api_keys` that value is a secret.
        if any("config['api_keys']" in error for error in schema_errors):
            schema_errors = [error for error in schema_errors if "config['api_keys']" not in error]
            schema_errors.append(
                "`api_keys` must be a list of PracticeHub API keys (the value is not shown)."
            )
        return schema_errors + settings.config_errors(self.config)

    @property
    def base_url(self) -> str:
        errors = settings.config_errors(self.config)
        if errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return settings.base_url(self.config)

    @property
    def api(self) -> PracticeHubAPI:
        """The one HTTP client (and so the one pacer per key) every stream shares."""
        with self._api_lock:
            if self._api is None:
                self._api = PracticeHubAPI(
                    base_url=self.base_url,
                    api_keys=list(self.config["api_keys"]),
                    app_details=self.config["app_details"],
                    requests_per_second=float(self.config.get("requests_per_second", 1.0)),
                    pacing_margin=float(self.config.get("pacing_margin", 0.02)),
                    rate_limit_scope=str(self.config.get("rate_limit_scope") or "auto"),
                    timeout=float(self.config.get("request_timeout", 60)),
                    max_retries=int(self.config.get("max_retries", 8)),
                    retry_base_seconds=float(self.config.get("retry_base_seconds", 1.0)),
                    logger=self.logger,
                )
            return self._api

    def prefetch_after(self, stream: PracticeHubStream) -> None:
        """Ask now for the first pages of the streams that sync after ``stream``: no key idles between streams,
        even where several one-page streams follow each other."""
        following = stream
        for _ in range(PREFETCH_STREAMS):
            following = self._stream_after(following)
            if following is None:
                return
            if following.name not in self._prefetched:
                window = following.initial_window(None)
                self._prefetched[following.name] = following.start_window(window) if window else None

    def take_prefetched(self, name: str) -> tuple[bool, WindowStart | None]:
        """(True, start) if ``name`` was prefetched; a None start means there was nothing to read."""
        return name in self._prefetched, self._prefetched.pop(name, None)

    def _stream_after(self, stream: PracticeHubStream) -> PracticeHubStream | None:
        """The next stream ``sync_all`` will read (streams sync one after another in this order)."""
        names = list(self.streams)
        for candidate in (self.streams[name] for name in names[names.index(stream.name) + 1:]):
            if candidate.selected and candidate.parent_stream_type is None:
                return candidate
        return None

    def sync_all(self) -> None:
        super().sync_all()
        if self._api is not None:
            stats, scope = self._api.stats, self._api.rate_scope
            refused = stats.by_status.get("429", 0)
            self.logger.info(
                "rate limit: %d requests, %d refused (%.1f%%); %s",
                stats.requests, refused, 100.0 * refused / stats.requests if stats.requests else 0.0,
                scope.describe(),
            )

    def wait_for(self, future: Future) -> Page:
        """A page's answer. What was written so far leaves first: no record waits in a buffer while we wait."""
        if not future.done():
            self.message_writer.flush()
        return future.result()

    # The two CLI paths that validate the config and call the API (a sync, `--test`); `--discover` does neither.
    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:
        with _setting_errors_exit_cleanly():
            super().invoke(**kwargs)

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        with _setting_errors_exit_cleanly():
            super().cb_test(ctx, param, value)

    def discover_streams(self):
        assumed = set(self.config.get("assumed_resources") or ())
        return [stream_type(tap=self) for stream_type in STREAM_TYPES
                if stream_type.name not in ASSUMED_STREAMS or stream_type.name in assumed]

    def load_streams(self):
        """Streams in declaration order (the SDK sorts by name), so related records arrive in dependency order."""
        return list(self.discover_streams())


def main() -> None:
    """The `tap-practicehub` command."""
    private_outputs()  # downloaded attachments and anything else a sync writes
    TapPracticeHub.cli()


if __name__ == "__main__":
    main()
