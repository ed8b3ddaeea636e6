"""SQL shared by Figs 2 and 8: per provider (and 'all') and half-open bin of a value, the bin's
share of the rows beside its share of the summed value."""

from __future__ import annotations

VISIBLE_SHARE = 0.005  # a bin is drawn if it reaches 0.5% in any bar of any panel


def bins_values_sql(bins, unit: str) -> str:
    """`bins` = (label, lo, hi) half-open [lo, hi), hi None = unbounded, as a VALUES relation."""
    rows = ", ".join(
        f"({i}, '{label}', {lo}, {'NULL' if hi is None else hi})"
        for i, (label, lo, hi) in enumerate(bins)
    )
    return f"(VALUES {rows}) AS b(bin_order, label, lo_{unit}, hi_{unit})"


def binned_shares_sql(
    *,
    source: str,
    value: str,
    bins,
    unit: str,
    count: tuple[str, str],
    weight: tuple[str, str],
    ctes: str = "",
    carry: str = "",
    extra: str = "",
    weight_type: str | None = None,
) -> str:
    """One row per provider (plus 'all') and bin: `count` = (rows in the bin, their share),
    `weight` = (sum of `value` in the bin, its share), `extra` aggregates over `r` (the
    `source` rows, with the `carry` columns), and `shown` from VISIBLE_SHARE."""
    cols = f"{value}, {carry}" if carry else value
    lo, hi = f"lo_{unit}", f"hi_{unit}"
    total = f"coalesce(sum(r.{value}), 0)" + (f"::{weight_type}" if weight_type else "")
    (n, n_share), (w, w_share) = count, weight
    grid = bins_values_sql(bins, unit)
    return f"""
        WITH {ctes + "," if ctes else ""}
        rows_ AS (
            SELECT provider, {cols} FROM {source}
            UNION ALL
            SELECT 'all', {cols} FROM {source}
        ),
        grid AS (SELECT * FROM (SELECT DISTINCT provider FROM rows_), {grid}),
        counted AS (
            SELECT g.provider, g.bin_order, g.label, g.{lo}, g.{hi},
                   count(r.{value}) AS {n},{f" {extra}," if extra else ""}
                   {total} AS {w}
            FROM grid g
            LEFT JOIN rows_ r
              ON r.provider = g.provider AND r.{value} >= g.{lo}
             AND (g.{hi} IS NULL OR r.{value} < g.{hi})
            GROUP BY ALL
        ),
        shared AS (
            SELECT *,
                {n} / nullif(sum({n}) OVER (PARTITION BY provider), 0) AS {n_share},
                {w} / nullif(sum({w}) OVER (PARTITION BY provider), 0) AS {w_share}
            FROM counted
        )
        SELECT *,
            max(greatest(coalesce({n_share}, 0), coalesce({w_share}, 0)))
                OVER (PARTITION BY bin_order) >= {VISIBLE_SHARE} AS shown
        FROM shared
        ORDER BY provider = 'all', provider, bin_order
        """
