"""The anonymized public layer: keyed pseudonyms, Presidio scrubbing, command signatures."""

from tracelab_pipeline.anonymize.anonymize import (
    PUBLIC_TABLES,
    AnonymizedPartition,
    anonymize_partition,
    anonymize_table,
)
from tracelab_pipeline.anonymize.command_signature import command_signature
from tracelab_pipeline.anonymize.presidio_engine import Scrubber
from tracelab_pipeline.anonymize.pseudonyms import Pseudonymizer, PseudonymKeyError, resolve_key

__all__ = [
    "PUBLIC_TABLES",
    "AnonymizedPartition",
    "PseudonymKeyError",
    "Pseudonymizer",
    "Scrubber",
    "anonymize_partition",
    "anonymize_table",
    "command_signature",
    "resolve_key",
]
