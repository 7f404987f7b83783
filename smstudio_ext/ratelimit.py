"""A request-rate bound for AWS calls: a token bucket shared by threads, and a botocore request
hook that takes a token before every HTTP request (retries included) and counts requests per
operation. The admin's audit and report use it through ``AwsClients.with_request_hook`` so every
client handed to the engines is bounded too."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable

from .errors import BadInput


class RateLimiter:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second (burst ``burst``)."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate or rate <= 0:
            raise BadInput(f"max requests per second must be positive, got {rate}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, min(rate, 10.0)))
        self._tokens = self.burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = monotonic()
        self._lock = threading.Lock()
        self.acquired = 0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1 - 1e-9:  # float dust must not spin the loop
                    self._tokens -= 1
                    self.acquired += 1
                    return
                wait = max((1 - self._tokens) / self.rate, 1e-6)
            self._sleep(wait)


class RequestMeter:
    """Before every HTTP request (retries included) take a token from ``limiter``, and count
    requests per ``service:Operation``. Used as an ``AwsClients.with_request_hook`` hook, so
    everything handed those clients (the insights engine, ``iter_apps``, the ``PriceBook``) is
    bounded too."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, service: str, operation: str) -> None:
        self.limiter.acquire()
        with self._lock:
            self.counts[f"{service}:{operation}"] += 1

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(self.counts.values())
