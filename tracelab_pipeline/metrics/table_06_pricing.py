"""Table 6 — pricing snapshot (configuration, with its as_of date) and how the data resolved.

Rows: every exact price group of pricing.json (the paper shows the first five), then the family
fallbacks TraceLab applies but the paper does not show (e.g. gpt-5.3-codex billed at GPT-5.5
rates), then every model in the data that resolved to no price ("unpriced": its steps keep their
tokens but carry no dollars). `steps` counts the steps each row priced.
"""

from __future__ import annotations

import duckdb

from tracelab_pipeline.metrics.common import write_paper_table
from tracelab_pipeline.metrics.pricing import load_pricing

NAME = "table_06_pricing"
COLUMNS = [
    ("provider", "VARCHAR"),
    ("model_group", "VARCHAR"),
    ("input", "DOUBLE"),
    ("cache_write_5m", "DOUBLE"),
    ("cache_write_1h", "DOUBLE"),
    ("cache_read", "DOUBLE"),
    ("output", "DOUBLE"),
    ("match_kind", "VARCHAR"),
    ("models_seen", "VARCHAR"),
    ("steps", "BIGINT"),
    ("as_of", "VARCHAR"),
]


def build(con: duckdb.DuckDBPyConnection) -> int:
    pricing = load_pricing()
    seen = con.execute(
        """SELECT p.match_kind, p.price_group, s.provider, s.model, count(*)
        FROM steps s JOIN model_prices p
          ON p.provider = s.provider AND p.model IS NOT DISTINCT FROM s.model
        GROUP BY ALL ORDER BY count(*) DESC, s.model"""
    ).fetchall()
    by_group: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for kind, group, provider, model, n in seen:
        by_group.setdefault((kind, group or f"{provider}:{model}"), []).append((model, n))

    rows = []
    groups_done = set()
    for kind, entries in (("exact", pricing.exact), ("family", pricing.families)):
        for entry in entries:
            if (kind, entry["group"]) in groups_done:
                continue
            groups_done.add((kind, entry["group"]))
            used = by_group.get((kind, entry["group"]), [])
            rows.append(
                {
                    "provider": entry["provider"],
                    "model_group": entry["group"],
                    **{
                        f: entry[f]
                        for f in (
                            "input",
                            "cache_write_5m",
                            "cache_write_1h",
                            "cache_read",
                            "output",
                        )
                    },
                    "match_kind": kind,
                    "models_seen": ", ".join(m for m, _ in used) or None,
                    "steps": sum(n for _, n in used),
                    "as_of": pricing.as_of,
                }
            )
    for kind, _group, provider, model, n in seen:
        if kind == "unpriced":
            rows.append(
                {
                    "provider": provider,
                    "model_group": model if model is not None else "(no model)",
                    "match_kind": "unpriced",
                    "models_seen": model,
                    "steps": n,
                    "as_of": pricing.as_of,
                }
            )
    # one block per provider: exact prices, then its family fallbacks, then its unpriced models
    kinds = {"exact": 0, "family": 1, "unpriced": 2}
    rows.sort(key=lambda r: (r["provider"] != "claude", r["provider"], kinds[r["match_kind"]]))
    return write_paper_table(con, NAME, COLUMNS, rows)
