"""Resources: the only place where environments differ (data directory, inbox URL, warehouse).

Other stages add their resources to `build_resources()` (one entry each).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from tracelab_pipeline.paths import resolve_data_dir, resolve_inbox


class TraceLabConfig(dg.ConfigurableResource):
    """Where the pipeline keeps its data and where contributors drop their logs.

    Unset fields are resolved when used (env vars, then defaults), so the same code location
    works on a laptop (`./data`) and against a bucket inbox (`TRACELAB_INBOX=s3://...`).
    """

    data_dir: str | None = None
    inbox: str | None = None
    # Extra fsspec storage options for a bucket inbox (e.g. {"endpoint_url": ...}).
    inbox_storage_options: dict | None = None
    # Processes for runs that build many partitions (backfills); 1 = in the run's process.
    workers: int = min(2, os.cpu_count() or 1)

    @property
    def data_path(self) -> Path:
        return resolve_data_dir(self.data_dir)

    @property
    def inbox_url(self) -> str:
        return resolve_inbox(self.inbox, self.data_dir)

    @property
    def landed_dir(self) -> Path:
        return self.data_path / "landed"

    @property
    def private_dir(self) -> Path:
        return self.data_path / "private"

    @property
    def public_dir(self) -> Path:
        return self.data_path / "public"

    @property
    def figures_dir(self) -> Path:
        return self.data_path / "figures"


class AnonymizationConfig(dg.ConfigurableResource):
    """Pseudonym key and contributor deny-list for the public layer (anonymize stage), and
    the list of contributors who consented (landing).

    Leave `pseudonym_key` unset in code and give it through env TRACELAB_PSEUDONYM_KEY, so it
    never shows in the UI. Without a key a demo run creates `<data>/pseudonym.key`; a production
    run (`production=True` or env TRACELAB_ENV=production) refuses to start. Likewise without a
    consent list a demo lands everyone and production lands no one (landing/consent.py).
    """

    pseudonym_key: str | None = None
    # Contributors' real names/handles, scrubbed wherever they appear; env TRACELAB_DENY_LIST
    # (comma-separated) adds more.
    deny_list: list[str] = []
    production: bool | None = None
    # Handles that consented ('*': everyone); env TRACELAB_CONTRIBUTORS and the file named by
    # env TRACELAB_CONTRIBUTORS_FILE add more. Unset everywhere: production lands no one.
    contributors: list[str] | None = None
    contributors_file: str | None = None

    @property
    def is_production(self) -> bool:
        if self.production is not None:
            return self.production
        return os.environ.get("TRACELAB_ENV", "").lower() == "production"

    def names(self) -> list[str]:
        extra = os.environ.get("TRACELAB_DENY_LIST", "")
        return [*self.deny_list, *(n.strip() for n in extra.split(",") if n.strip())]

    def setup_for_execution(self, context) -> None:
        # A production run without a usable key refuses to start, before any step does work.
        problem = self.key_problem()
        if problem:
            from tracelab_pipeline.anonymize.pseudonyms import PseudonymKeyError

            raise PseudonymKeyError(problem)

    def key_problem(self) -> str | None:
        """Why a production run would refuse to start (no key, or one too short), else None.

        Checked at setup, so also by the inbox sensor's and the nightly sweep's ticks (they
        take this resource): without a key every run they launched would fail at start.
        """
        if not self.is_production:
            return None
        from tracelab_pipeline.anonymize.pseudonyms import (
            Pseudonymizer,
            PseudonymKeyError,
            resolve_key,
        )

        try:
            Pseudonymizer(resolve_key(None, configured=self.pseudonym_key, production=True)[0])
        except PseudonymKeyError as exc:
            return str(exc)
        return None

    def consent(self):
        """Who may land now; raises ConsentError when production has no list (or it is
        unusable). Resolved on every landing, so a file's new handles count at once."""
        from tracelab_pipeline.landing.consent import resolve_consent

        return resolve_consent(
            self.contributors, self.contributors_file, production=self.is_production
        )

    def key(self, data_dir: str | os.PathLike) -> tuple[bytes, str]:
        """(key, where it came from); raises PseudonymKeyError when production has none."""
        from tracelab_pipeline.anonymize.pseudonyms import resolve_key

        return resolve_key(data_dir, configured=self.pseudonym_key, production=self.is_production)


def build_resources(
    data_dir: str | os.PathLike | None = None,
    inbox: str | None = None,
    inbox_storage_options: dict | None = None,
) -> dict[str, object]:
    """All resources of the code location, keyed as assets request them."""
    data = resolve_data_dir(data_dir)
    return {
        "tracelab": TraceLabConfig(
            data_dir=str(data),
            inbox=resolve_inbox(inbox, data),
            inbox_storage_options=inbox_storage_options,
        ),
        "duckdb": DuckDBResource(database=str(data / "warehouse.duckdb")),
        "anonymization": AnonymizationConfig(),
    }
