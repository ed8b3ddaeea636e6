"""List prices per model (pricing.json) and the TraceLab resolution rule.

Resolution (tracelab-metrics §0.7): the exact `<provider>:<model>` entry first; else the first
family whose `match` is a substring of the lower-cased model, in file order; else unpriced. An
unpriced step stays in every token metric and is left out of dollar totals, and Table 6 lists it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

DEFAULT_PATH = Path(__file__).with_name("pricing.json")

PRICE_FIELDS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")


@dataclass(frozen=True)
class Price:
    group: str
    match_kind: str  # "exact" | "family"
    key: str
    input: float
    cache_write_5m: float | None
    cache_write_1h: float | None
    cache_read: float
    output: float


@dataclass(frozen=True)
class Pricing:
    as_of: str
    unit: str
    exact: tuple[dict, ...]
    families: tuple[dict, ...]

    def resolve(self, provider: str | None, model: str | None) -> Price | None:
        if not model:
            return None
        for row in self.exact:
            if row["provider"] == provider and row["model"] == model:
                return _price(row, "exact", f"{provider}:{model}")
        lowered = model.lower()
        for row in self.families:
            if row["match"] in lowered:
                return _price(row, "family", row["match"])
        return None


def _price(row: dict, kind: str, key: str) -> Price:
    return Price(row["group"], kind, key, *(row[f] for f in PRICE_FIELDS))


@cache
def load_pricing(path: str | Path = DEFAULT_PATH) -> Pricing:
    data = json.loads(Path(path).read_text())
    return Pricing(data["as_of"], data["unit"], tuple(data["exact"]), tuple(data["families"]))


RESOLUTION_SCHEMA = pa.schema(
    [
        ("provider", pa.string()),
        ("model", pa.string()),
        ("price_group", pa.string()),
        ("match_kind", pa.string()),
        ("price_key", pa.string()),
        *((f"price_{f}", pa.float64()) for f in PRICE_FIELDS),
    ]
)


def create_price_table(con: duckdb.DuckDBPyConnection, pricing: Pricing | None = None) -> None:
    """Resolve every distinct (provider, model) of `steps` once into table `model_prices`.

    A handful of distinct models, so resolving in Python is exact and cheap; the per-step cost is
    then a join in SQL.
    """
    pricing = pricing or load_pricing()
    pairs = con.execute("SELECT DISTINCT provider, model FROM steps").fetchall()
    rows = []
    for provider, model in pairs:
        price = pricing.resolve(provider, model)
        row = {"provider": provider, "model": model}
        if price is None:
            row.update(price_group=None, match_kind="unpriced", price_key=None)
        else:
            row.update(price_group=price.group, match_kind=price.match_kind, price_key=price.key)
            row.update({f"price_{f}": getattr(price, f) for f in PRICE_FIELDS})
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=RESOLUTION_SCHEMA)
    con.register("_model_prices_arrow", table)
    try:
        con.execute("CREATE OR REPLACE TABLE model_prices AS SELECT * FROM _model_prices_arrow")
    finally:
        con.unregister("_model_prices_arrow")
