"""Names of every paper table and figure we reproduce: one list, used by assets, report and docs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    number: int
    slug: str
    title: str

    @property
    def table_name(self) -> str:
        """DuckDB table (schema `paper`) holding the numbers."""
        return f"{self.kind}_{self.number:02d}_{self.slug}"

    @property
    def kind(self) -> str:
        return "table" if self in TABLES else "figure"


TABLES = (
    Item(1, "overview", "Trace overview"),
    Item(2, "loop_counts", "Steps and tool calls per session, request and step"),
    Item(3, "context_growth", "Context growth and reduction between consecutive steps"),
    Item(4, "compaction", "Compaction detection"),
    Item(5, "cost_distribution", "Cost per session, request and step"),
    Item(6, "pricing", "Pricing snapshot"),
    Item(7, "timing", "Timing distribution"),
    Item(8, "token_lengths", "Token lengths per step"),
    Item(9, "append_by_prefix_bin", "Append tokens by prefix bin"),
    Item(10, "codex_tool_overhead", "Codex tool-call overhead"),
    Item(11, "prefix_cache_hit_rate", "Prefix-cache hit rate by step type"),
    Item(12, "fresh_tokens_amplification", "Fresh tokens and prefill amplification"),
    Item(13, "human_think_counterfactual", "Human-thinking cache counterfactual"),
)

FIGURES = (
    Item(1, "prefix_append", "Prefix vs append tokens per step"),
    Item(2, "append_share", "Step share vs append-token share by append length"),
    Item(3, "output_attribution", "Output attribution: output-cached vs output-resend"),
    Item(4, "output_lengths", "Output-token distribution"),
    Item(5, "output_attribution_schematic", "Output-cached vs output-resend accounting"),
    Item(6, "decode_speed", "Decode speed, pure decode speed and residual TTFT vs context"),
    Item(7, "tool_popularity", "Tool popularity"),
    Item(8, "tool_latency_share", "Tool latency: share of calls vs share of time"),
    Item(9, "tool_latency_by_tool", "Tool latency by tool (top 12)"),
    Item(10, "session_progress", "Session progress example"),
    Item(11, "hit_rate_vs_idle_gap", "Prefix-cache hit rate vs preceding idle gap"),
    Item(12, "eviction_sweep", "Eviction-timeout sweep"),
    # Not numbered in the paper text; the formula is in its §7.4.
    Item(13, "kv_active_ratio", "KV-cache active ratio"),
)
