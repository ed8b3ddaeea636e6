"""The `tracelab` command. Each module of this package that defines `command` is a subcommand.

Subcommand modules import heavy libraries inside their functions so `tracelab --help` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tracelab-pipeline")
def main() -> None:
    """Turn Claude Code and Codex session logs into a workload dataset for LLM-serving research."""


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _command = getattr(importlib.import_module(f"{__name__}.{_info.name}"), "command", None)
    if isinstance(_command, click.Command):
        main.add_command(_command)
