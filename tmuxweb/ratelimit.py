"""Token buckets for failed authentication, per client address and overall.

Only failures consume tokens. When a bucket is empty every authentication
attempt from that address (or, globally, from anyone) is answered 429 before
the presented token is even compared, so a limited attacker learns nothing.
Buckets refill within seconds, so the owner is never locked out for long.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def retry_after(self) -> float:
        return max(0.0, (1 - self.tokens) / self.rate)


class FailureLimiter:
    MAX_ADDRESSES = 10_000

    def __init__(self, burst: int = 10, rate: float = 1.0, global_burst: int = 100, global_rate: float = 10.0) -> None:
        self._burst, self._rate = burst, rate
        self._global = Bucket(global_burst, global_rate, global_burst, time.monotonic())
        self._by_address: dict[str, Bucket] = {}

    def blocked(self, address: str) -> float:
        """Seconds to wait before trying again (0 when allowed)."""
        now = time.monotonic()
        self._global.refill(now)
        bucket = self._by_address.get(address)
        if bucket is not None:
            bucket.refill(now)
            if bucket.tokens < 1:
                return bucket.retry_after()
        if self._global.tokens < 1:
            return self._global.retry_after()
        return 0.0

    def failed(self, address: str) -> None:
        now = time.monotonic()
        bucket = self._by_address.get(address)
        if bucket is None:
            if len(self._by_address) >= self.MAX_ADDRESSES:
                self._prune(now)
            bucket = self._by_address[address] = Bucket(self._burst, self._rate, self._burst, now)
        bucket.refill(now)
        bucket.tokens = max(0.0, bucket.tokens - 1)
        self._global.refill(now)
        self._global.tokens = max(0.0, self._global.tokens - 1)

    def _prune(self, now: float) -> None:
        # Full buckets carry no information; drop them first.
        for address, bucket in list(self._by_address.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.capacity:
                del self._by_address[address]
        while len(self._by_address) >= self.MAX_ADDRESSES:
            self._by_address.pop(next(iter(self._by_address)))
