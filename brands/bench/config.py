"""How big a ``cache_bench`` run is (``--quick`` and the hidden size knobs the tests use)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchConfig:
    quick: bool = False
    foreign_keys: int = 1_000_000
    brand_keys: int = 50_000
    rounds: int = 7
    calls: int = 2000  # calls per operation per round
    browse_calls: int = 30  # service browse calls per round (the SCAN baseline runs once a round)
    other_benchmarks: bool = True
    value_bytes: int | None = None  # the bench brand's values as JSON strings of this size

    @classmethod
    def make(cls, *, quick: bool, foreign_keys: int | None = None, brand_keys: int | None = None,
             rounds: int | None = None, calls: int | None = None, other_benchmarks: bool = True,
             value_bytes: int | None = None) -> BenchConfig:
        return cls(
            quick=quick,
            foreign_keys=foreign_keys if foreign_keys is not None else (100_000 if quick else 1_000_000),
            brand_keys=brand_keys if brand_keys is not None else 50_000,
            rounds=rounds if rounds is not None else (3 if quick else 7),
            calls=calls if calls is not None else (500 if quick else 2000),
            browse_calls=10 if quick else 30,
            other_benchmarks=other_benchmarks,
            value_bytes=value_bytes,
        )
