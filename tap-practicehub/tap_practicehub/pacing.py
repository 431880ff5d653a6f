"""Proactive pacing: requests leave at most ``rate`` per second per rate limit, so a steady run draws no 429s.

A rate limit belongs to one API key or to the whole account (``RateScope``); each limit has one ``KeyPacer``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_MARGIN = 0.25
MAX_IN_FLIGHT = 3
SCOPES = ("auto", "account", "key")
# A key whose previous request left this many intervals ago has a token of its own whatever its bucket size
# (and whatever the server's clock jitter): if it is refused then, the other keys' requests used the token.
CLEAR_GAP = 1.5
# Backstop for servers whose bucket hides the first evidence: this share of refusals among the last
# answers cannot come from jitter (each refusal widens the key's margin), only from a shared limit.
RECENT_ANSWERS = 20
RECENT_REFUSED_SHARE = 0.25
# Accepted requests sent within half an interval of another key's: this many, unrefused, show the keys
# do not share a one-request-per-interval limit (reported as learned; later refusals can still overturn it).
PARALLEL_EVIDENCE = 8


class KeyPacer:
    """Spaces one API key's requests evenly; every stream and thread using the key shares this one pacer.

    Requests are at least ``interval * (1 + margin)`` apart as sent; the margin absorbs the jitter between
    our send and the moment the server's bucket counts the request.

    One request is in flight while an answer takes less than the interval (always, at PracticeHub's real
    rate); a second or third is let out only when answers take longer, so a slow server or a time-scaled
    run still uses every slot. Overlapping requests reach the server less evenly, so never more than needed.
    """

    def __init__(
        self,
        rate: float,
        margin: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0 requests per second")
        self.base_interval = 1.0 / rate
        self.margin = margin
        self.interval = self.base_interval * (1.0 + margin)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._flight = threading.Condition()
        self.in_flight = 0
        self.latency: float | None = None  # moving average of seconds per answer

    def allowed_in_flight(self) -> int:
        if self.latency is None:
            return 1
        return max(1, min(MAX_IN_FLIGHT, math.ceil(self.latency / self.interval)))

    def reserve(self) -> None:
        """Block until this key may have one more request in flight."""
        with self._flight:
            while self.in_flight >= self.allowed_in_flight():
                self._flight.wait()
            self.in_flight += 1

    def release(self) -> None:
        with self._flight:
            self.in_flight -= 1
            self._flight.notify()

    def answered(self, seconds: float) -> None:
        """One answer took ``seconds`` from send to parsed page."""
        with self._flight:
            self.latency = seconds if self.latency is None else 0.8 * self.latency + 0.2 * seconds
            self._flight.notify_all()

    def wait(self) -> float:
        """Block until this key may send its next request; returns the seconds waited."""
        with self._lock:  # held while sleeping: callers sharing a key queue up behind each other
            now = self._clock()
            delay = self._next_slot - now
            if delay > 0:
                self._sleep(delay)
            # Measured from when we really leave (sleep overshoots), so two sends are never closer than
            # one interval, whatever the scheduler did.
            self._next_slot = self._clock() + self.interval
        return max(delay, 0.0)

    def refused(self) -> float:
        """The server said 429 although we paced: its clock is noisier than our margin, so widen it.

        Doubles the margin (at least 2%, at most ``MAX_MARGIN``); returns the new margin. A run thus
        settles after a refusal or two at the spacing this server needs.
        """
        with self._lock:
            self.margin = min(MAX_MARGIN, max(0.02, self.margin * 2))
            self.interval = self.base_interval * (1.0 + self.margin)
            return self.margin

    def hold(self, seconds: float) -> None:
        """Push this key's next slot at least ``seconds`` from now (after a 429 told us to wait)."""
        self.hold_until(self._clock() + seconds)

    def hold_until(self, instant: float) -> None:
        with self._lock:
            self._next_slot = max(self._next_slot, instant)

    @property
    def next_slot(self) -> float:
        return self._next_slot


@dataclass(frozen=True)
class Send:
    """One request as it left: which key, through which pacer, and how close to the keys' other requests."""

    key: int
    pacer: KeyPacer
    own_gap: float | None  # seconds since this key's previous request left; None for its first
    others_gap: float | None  # seconds since another key's latest request left; None if none has yet


class RateScope:
    """Whether the keys' requests are paced per key or together, and what the tap knows about it.

    ``key``: one pacer per key, used in parallel. ``account``: one pacer shared by every key, since the keys
    draw on one limit. ``auto`` starts with the keys in parallel (their first requests spread over one
    interval) and switches to ``account`` for good once a refusal follows from the keys' combined pace: a
    key was refused although its own previous request was long enough ago (or it had sent none) and another
    key had just sent. Under per-key limits that cannot happen, so a per-key account keeps its parallel keys.
    """

    def __init__(
        self,
        keys: int,
        rate: float,
        margin: float,
        scope: str,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if scope not in SCOPES:
            raise ValueError(f"rate_limit_scope must be one of {', '.join(SCOPES)}")
        self.keys = keys
        self.rate = rate
        self.setting = scope
        self.logger = logger
        self._clock = clock
        self.key_pacers = [KeyPacer(rate, margin, clock, sleep) for _ in range(keys)]
        self.account_pacer = KeyPacer(rate, margin, clock, sleep) if keys > 1 else self.key_pacers[0]
        self.shared = scope == "account"
        if keys == 1:
            self.basis = "one key"
        else:
            self.basis = "setting" if scope != "auto" else "assumed"
        self.reason = ""
        self._lock = threading.Lock()
        self._last_sent: list[float | None] = [None] * keys
        self._started: set[int] = set()
        self._next_first = 0.0  # parallel keys: their first requests are spread over one interval
        self._recent: deque[bool] = deque(maxlen=RECENT_ANSWERS)  # True: refused (parallel keys only)
        self._parallel_accepted = 0

    @property
    def scope(self) -> str:
        """``account`` or ``key``: how the keys are paced now."""
        return "account" if self.shared else "key"

    @property
    def requests_per_second(self) -> float:
        """What the keys may send together under the current scope."""
        return self.rate if self.shared else self.rate * self.keys

    @property
    def learning(self) -> bool:
        return self.setting == "auto" and self.keys > 1 and not self.shared

    def pacer_for(self, key: int) -> KeyPacer:
        return self.account_pacer if self.shared else self.key_pacers[key]

    def describe(self) -> str:
        """The keys and their limit in words, for the log and the audit."""
        if self.keys == 1:
            return "1 key"
        if self.shared:
            how = f"{self.keys} keys sharing one account limit"
        else:
            how = f"{self.keys} keys, each with its own limit"
        if self.basis == "setting":
            return f"{how} (rate_limit_scope: {self.setting})"
        if self.basis == "learned":
            return f"{how} (learned: {self.reason})"
        return (f"{how} (assumed, not yet tested: if they share one account limit the tap learns it from "
                "its first refusal; set rate_limit_scope to state it)")

    def send(self, key: int) -> Send:
        """Block until ``key`` may send through the pacer that governs it now; the request leaves on return."""
        with self._lock:
            if key not in self._started and not self.shared and self.keys > 1:
                self._started.add(key)
                slot = max(self._clock(), self._next_first)
                self._next_first = slot + self.key_pacers[key].base_interval / self.keys
                self.key_pacers[key].hold_until(slot)
        while True:
            pacer = self.pacer_for(key)
            pacer.wait()
            if self.pacer_for(key) is pacer:  # the scope did not change while this key slept
                break
        with self._lock:
            now = self._clock()
            own = self._last_sent[key]
            others = [sent for index, sent in enumerate(self._last_sent) if index != key and sent is not None]
            self._last_sent[key] = now
        return Send(key, pacer, None if own is None else now - own, now - max(others) if others else None)

    def accepted(self, send: Send, seconds: float) -> None:
        """``send`` was answered in ``seconds``."""
        send.pacer.answered(seconds)
        if not self.learning:
            return
        with self._lock:
            self._recent.append(False)
            if send.others_gap is not None and send.others_gap < 0.5 * send.pacer.base_interval:
                self._parallel_accepted += 1
            if self.basis == "assumed" and self._parallel_accepted >= PARALLEL_EVIDENCE:
                self.basis = "learned"
                self.reason = f"{self._parallel_accepted} requests sent together faster than one limit allows, none refused"
                self.logger.info("rate limit: %s; using them in parallel", self.describe())

    def refused(self, send: Send, hold_seconds: float) -> None:
        """``send`` drew a 429 and its retry waits ``hold_seconds``: hold the right pacer and learn from it."""
        if self.shared and send.pacer is not self.account_pacer:
            # Left under its key's pacer just before the switch: the combined pace again, not jitter.
            self.account_pacer.hold(hold_seconds)
            return
        if self.learning:
            reason = self._shared_evidence(send)
            if reason:
                self._share(send, reason, hold_seconds)
                return
        send.pacer.hold(hold_seconds)
        margin = send.pacer.refused()
        label = "account" if send.pacer is self.account_pacer and self.keys > 1 else key_label(send.key)
        self.logger.info("%s: pacing margin now %.0f%% after a 429", label, margin * 100)

    def _shared_evidence(self, send: Send) -> str:
        base = send.pacer.base_interval
        with self._lock:
            self._recent.append(True)
            recent_refused = sum(self._recent)
        others_just_sent = send.others_gap is not None and send.others_gap < base
        if others_just_sent and (send.own_gap is None or send.own_gap >= CLEAR_GAP * base):
            own = "its first request" if send.own_gap is None else f"its own previous request {send.own_gap:.2f} s before"
            return (f"{key_label(send.key)} was refused on {own}, {send.others_gap:.2f} s after another key's "
                    "request")
        if recent_refused >= RECENT_REFUSED_SHARE * RECENT_ANSWERS:
            return f"{recent_refused} of the last {len(self._recent)} answers were refusals"
        return ""

    def _share(self, send: Send, reason: str, hold_seconds: float) -> None:
        with self._lock:
            if self.shared:
                return
            # The account's pacer starts where the busiest key left off, so the switch adds no burst.
            self.account_pacer.hold_until(max(pacer.next_slot for pacer in self.key_pacers))
            self.account_pacer.hold(hold_seconds)
            self.shared = True
            self.basis = "learned"
            self.reason = f"refusals followed from their combined pace: {reason}"
        self.logger.warning(
            "rate limit: the %d API keys share one account limit (%s); pacing them together at %g "
            "requests/s from now on (set rate_limit_scope: account to start that way)",
            self.keys, reason, self.rate,
        )


def key_label(index: int) -> str:
    """How a key appears in logs: its position, never its value."""
    return f"key#{index + 1}"
