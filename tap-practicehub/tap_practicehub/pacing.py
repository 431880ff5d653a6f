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
# A key whose previous request left this many intervals before has a token of its own, whatever its
# bucket size and the server's clock jitter: refused then, right after another key's request, it was the
# keys' combined pace that used the token. While probing, each key's requests are this far apart.
PROBE_GAP = 1.25
# The most requests a shared limit lets through beyond its rate (its bucket: PracticeHub refuses
# back-to-back requests, the time-scaled sandbox holds 2): accepted requests beyond ``rate * span +
# SHARED_BURST`` over some span show the keys have limits of their own.
SHARED_BURST = 2
ACCEPTED_KEPT = 32
# Once per-key limits are shown, a refusal at a key's own pace is jitter: no new probe, unless refusals
# come this often among the last answers, which jitter (each one widening its key's margin) does not do.
RECENT_ANSWERS = 20
RECENT_REFUSALS_REPROBE = 3


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
        self.floor = 0.0  # a longer spacing asked for while probing the rate limit's scope
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
            self._next_slot = self._clock() + max(self.interval, self.floor)
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
    """One request as it left: which key, through which pacer, when, and how close to the keys' others."""

    key: int
    pacer: KeyPacer
    at: float
    own_gap: float | None  # seconds since this key's previous request left; None for its first
    others_gap: float | None  # seconds since another key's latest request left; None if none has yet


class RateScope:
    """Whether the keys' requests are paced per key or together, and what the tap knows about it.

    ``key``: one pacer per key, used in parallel. ``account``: one pacer shared by every key, since the keys
    draw on one limit. ``auto`` starts with the keys in parallel (their first requests spread over one
    interval) and paces them as one account for good once a refusal follows from their combined pace: a
    key refused although its own previous request left at least ``PROBE_GAP`` intervals before (or it had
    sent none), right after another key's request. A per-key limit never refuses that.

    A refusal at a key's own full pace proves nothing (jitter, or a shared limit's bucket running dry), so
    it starts a probe: each key's requests ``PROBE_GAP`` intervals apart while together they still exceed
    one limit. A shared limit then refuses a request that is clear of its own key's pace; per-key limits let
    more through than one limit could, which ends the probe and shows per-key limits: later refusals at a
    key's own pace are then taken for jitter (its margin widens) unless they come too often for that.
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
        self.probing = False
        self._lock = threading.Lock()
        self._last_sent: list[float | None] = [None] * keys
        self._started: set[int] = set()
        self._next_first = 0.0  # parallel keys: their first requests are spread over one interval
        self._accepted: deque[float] = deque(maxlen=ACCEPTED_KEPT)  # send times, while learning
        self._recent: deque[bool] = deque(maxlen=RECENT_ANSWERS)  # refused or not, while learning

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
        how = f"{self.keys} keys sharing one account limit" if self.shared else f"{self.keys} keys, each with its own limit"
        if self.basis == "setting":
            return f"{how} (rate_limit_scope: {self.setting})"
        if self.basis == "learned":
            return f"{how} (learned: {self.reason})"
        return (f"{how} (assumed, not yet tested: were it one account limit, the tap would learn it from its "
                "first refusals; set rate_limit_scope to state it)")

    def send(self, key: int) -> Send:
        """Block until ``key`` may send through the pacer that governs it now; the request leaves on return."""
        first_slot = None
        with self._lock:
            if key not in self._started and not self.shared and self.keys > 1:
                self._started.add(key)
                first_slot = max(self._clock(), self._next_first)
                self._next_first = first_slot + self.key_pacers[key].base_interval / self.keys
        if first_slot is not None:  # outside our lock: a pacer's lock is held while a worker sleeps in it
            self.key_pacers[key].hold_until(first_slot)
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
        return Send(key, pacer, now, None if own is None else now - own, now - max(others) if others else None)

    def accepted(self, send: Send, seconds: float) -> None:
        """``send`` was answered in ``seconds``."""
        send.pacer.answered(seconds)
        if not self.learning:
            return
        with self._lock:
            self._recent.append(False)
            self._accepted.append(send.at)
            beyond = self._beyond_one_limit()
            if beyond is None:
                return
            was_probing, newly = self.probing, self.basis != "learned"
            self._set_probe(False)
            self._accepted.clear()
            self.basis = "learned"
            self.reason = f"{beyond[0]} requests answered within {beyond[1]:.2f} s, more than one limit allows"
        if newly or was_probing:
            self.logger.info("rate limit: %s; using them in parallel", self.describe())

    def _beyond_one_limit(self) -> tuple[int, float] | None:
        """Requests accepted within a span, if more than one shared limit (and its bucket) lets through."""
        times = sorted(self._accepted)
        for index, first in enumerate(times):
            count, span = len(times) - index, times[-1] - first
            if count > self.rate * span + SHARED_BURST + 0.5:
                return count, span
        return None

    def refused(self, send: Send, hold_seconds: float) -> None:
        """``send`` drew a 429 and its retry waits ``hold_seconds``: hold the right pacer and learn from it."""
        if self.shared and send.pacer is not self.account_pacer:
            # Left under its key's pacer just before the switch: the combined pace again, not jitter.
            self.account_pacer.hold(hold_seconds)
            return
        if self.learning:
            with self._lock:
                self._recent.append(True)
            base = send.pacer.base_interval
            clear_of_own_pace = send.own_gap is None or send.own_gap >= PROBE_GAP * base * 0.999
            if clear_of_own_pace and send.others_gap is not None and send.others_gap < base:
                self._share(send, hold_seconds)
                return
        send.pacer.hold(hold_seconds)
        margin = send.pacer.refused()
        label = "account" if send.pacer is self.account_pacer and self.keys > 1 else key_label(send.key)
        self.logger.info("%s: pacing margin now %.0f%% after a 429", label, margin * 100)
        if self.learning and not self.probing and not self._per_key_shown():
            with self._lock:
                holds = self._set_probe(True)
                self._accepted.clear()  # evidence for per-key limits counts from the probe's start
            for pacer, instant in holds:
                pacer.hold_until(instant)
            self.logger.info(
                "rate limit: probing whether the keys share one limit: each key's requests %g intervals apart, "
                "together still more than one limit allows", PROBE_GAP,
            )

    def _per_key_shown(self) -> bool:
        with self._lock:
            return self.basis == "learned" and sum(self._recent) < RECENT_REFUSALS_REPROBE

    def _set_probe(self, on: bool) -> list[tuple[KeyPacer, float]]:
        """Start or end the probe; returns the holds that space each key's next request from its last."""
        self.probing = on
        for pacer in self.key_pacers:
            pacer.floor = PROBE_GAP * pacer.base_interval if on else 0.0
        if not on:
            return []
        return [(pacer, sent + pacer.floor) for pacer, sent in zip(self.key_pacers, self._last_sent, strict=True)
                if sent is not None]

    def _share(self, send: Send, hold_seconds: float) -> None:
        own = "on its first request" if send.own_gap is None else f"{send.own_gap:.2f} s after its own previous request"
        reason = f"{key_label(send.key)} was refused {own}, {send.others_gap:.2f} s after another key's request"
        with self._lock:
            if self.shared:
                return
            self._set_probe(False)
            # The account's pacer starts where the keys left off, so the switch adds no burst.
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
