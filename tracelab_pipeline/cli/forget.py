"""`tracelab forget HANDLE [--yes]`: erase one contributor (withdrawal, right to be forgotten)."""

from __future__ import annotations

import os

import click


@click.command("forget")
@click.argument("handle")
@click.option(
    "--data-dir", default=None, help="Data directory (default $TRACELAB_DATA_DIR or ./data)."
)
@click.option("--inbox", default=None, help="Inbox (default $TRACELAB_INBOX, else <data>/inbox).")
@click.option("--yes", is_flag=True, help="Delete. Without it, only show what would go.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to keep trying while another process (a running `dagster dev` or daemon) "
    "holds the Dagster instance's database.",
)
@click.option(
    "-m",
    "--module",
    default=None,
    help="The pipeline's Dagster code location, as given to `dagster dev -m` (default "
    "tracelab_pipeline.definitions, which workspace.yaml loads): its anonymization resource "
    "says whether this is production, who consented and the pseudonym key, settings made in "
    "code included.",
)
def command(
    handle: str,
    data_dir: str | None,
    inbox: str | None,
    yes: bool,
    wait: float,
    module: str | None,
) -> None:
    """Erase contributor HANDLE: their inbox directory, landed files and registry rows,
    private and public partitions, and (with $DAGSTER_HOME, or <data>/dagster_home) their
    partition keys and runs in the Dagster instance. The public layer is found with the
    pseudonym key it was built with (the code location's anonymization resource, else
    $TRACELAB_PSEUDONYM_KEY, else <data>/pseudonym.key). Afterwards rebuild what is built from
    the public layer (the command prints how)."""
    from tracelab_pipeline.anonymize.pseudonyms import resolve_key
    from tracelab_pipeline.cli._store import describe, store_errors
    from tracelab_pipeline.forget import ForgetError, forget, plan_forget
    from tracelab_pipeline.paths import resolve_data_dir, resolve_inbox

    data = resolve_data_dir(data_dir)
    inbox_url = resolve_inbox(inbox, data)
    settings, settings_line = _pipeline_settings(module)
    # Where anonymize took it from; never creates one.
    key, _ = resolve_key(data, configured=settings.pseudonym_key, create=False)
    try:
        plan = plan_forget(handle, data, inbox_url, pseudonym_key=key)
    except ForgetError as exc:
        raise click.ClickException(str(exc)) from exc
    except store_errors() as exc:  # nothing was deleted: erase all of it or nothing
        raise click.ClickException(f"cannot read the inbox {inbox_url}: {describe(exc)}") from exc
    instance_home = os.environ.get("DAGSTER_HOME") or (
        str(data / "dagster_home") if (data / "dagster_home").is_dir() else None
    )
    dagster = _while_locked(
        instance_home, wait, lambda: _instance_side(instance_home, handle, apply=False)
    )

    verb = "deleting" if yes else "would delete"
    click.echo(f"{verb} contributor {handle} from {data}:")
    # plan.inbox_dir is the file system's own path: a bucket's lacks its s3:// scheme.
    click.echo(f"  inbox {inbox_url.rstrip('/')}/{handle}: {plan.inbox_files} file(s)")
    click.echo(
        f"  landed objects: {len(plan.objects)} "
        f"(+{plan.objects_shared} kept: the same bytes landed for another contributor)"
    )
    rows = ", ".join(f"{n} {t}" for t, n in plan.registry_rows.items()) or "none"
    click.echo(f"  registry rows: {rows}")
    click.echo(f"  partitions: {', '.join(plan.partitions) or 'none'}")
    click.echo(f"  private directories: {len(plan.private_dirs)}")
    click.echo(f"  public directories: {len(plan.public_dirs)}")
    if dagster is not None:
        click.echo(
            f"  Dagster instance {instance_home}: {len(dagster['partition_keys'])} partition "
            f"key(s), {dagster['runs']} run(s) of them with their logs "
            f"({dagster['ranged_runs_with_others']} ranged run(s) that also covered others: "
            f"{dagster['others_rebuilt']} partition(s) of others lose that run's history and are "
            f"rebuilt by the nightly sweep), {dagster['check_rows']} asset check result(s) of "
            f"them or her partitions, {dagster['ticks']} sensor/schedule tick(s) naming "
            f"{handle} (with the older ticks of their sensor or schedule), "
            f"{dagster['cached']} record(s) Dagster keeps beside them naming her partitions or "
            "runs (a sensor's last run key, the automation sensor's cursor, automation "
            "evaluations, an asset's cached latest materialization or partition status)"
        )
        if dagster["landed_events_left"]:
            click.echo(f"  {_landed_left(dagster['landed_events_left'])}")
        if dagster["runs_in_progress"]:
            click.echo(f"  {_in_progress(dagster['runs_in_progress'])}")
    else:
        # Left there, its partition keys and runs still name the handle: say so.
        click.echo(
            "  Dagster instance: none found (no $DAGSTER_HOME, no <data>/dagster_home): "
            f"partition keys and runs of {handle} in one are NOT erased; set DAGSTER_HOME"
        )
    left = _release_leftovers(data)
    if left:
        click.echo(f"  {left}")
    click.echo(f"  {settings_line}")
    note = _consent_note(handle, settings)
    if note:
        click.echo(f"  {note}")
    if not yes:
        click.echo("nothing deleted; run again with --yes to delete")
        return
    try:
        forget(plan, data, inbox_url)
    except ForgetError as exc:
        raise click.ClickException(str(exc)) from exc
    except store_errors() as exc:
        raise click.ClickException(
            f"erasing {handle} stopped: {describe(exc)}; run the same command again"
        ) from exc
    if instance_home:
        erased = _while_locked(
            instance_home,
            wait,
            lambda: _instance_side(instance_home, handle, apply=True),
            # Safe to repeat: the files are erased, and the instance side finds what is left.
            after=f"the files of {handle} are erased, the Dagster instance still names "
            f"{handle}: run the same command again once it is free, which finishes it",
        )
        if erased["landed_events_left"]:
            click.echo(f"  left: {_landed_left(erased['landed_events_left'])}")
        if erased["runs_in_progress"]:
            click.echo(f"  left: {_in_progress(erased['runs_in_progress'])}")
        for path in erased["not_vacuumed"]:
            click.echo(
                f"  not vacuumed, busy: {path}: deleted rows stay readable in its free pages "
                "or write-ahead log until it is (stop dagster dev, run `tracelab forget` again)"
            )
    state = _while_locked(
        instance_home,
        wait,
        lambda: _release_staleness(instance_home, data),
        after=f"{handle} is erased; only the release's staleness verdict was not recorded",
    )
    release = ""
    if state:
        where = (
            " (recorded as release_is_current's verdict in the instance)" if instance_home else ""
        )
        click.echo(f"  {state.line()}{where}")
        # The last contributor forgotten: a release rebuilt from nothing is withdrawn.
        release = (
            ", and the release (`... --select release`)"
            if state.partitions
            else ", and the release (no public partition is left: `... --select release` "
            "withdraws it, the run failing as it publishes nothing)"
        )
    click.echo(
        "done. Still built from the old public layer until rebuilt: the warehouse, paper "
        "tables, figures and report (`DAGSTER_HOME=... uv run dagster asset materialize -m "
        f"tracelab_pipeline.definitions --select 'warehouse*'`, or the next quiet night)"
        f"{release}."
    )


def _release_leftovers(data) -> str | None:
    """Release directories a failed removal or a killed build left: not erased here (one may
    be a build's in progress), but they may hold her data, so they are named."""
    from tracelab_pipeline.release import RELEASE_DIR_NAME
    from tracelab_pipeline.release.build import leftovers

    left = leftovers(data / RELEASE_DIR_NAME)
    if not left:
        return None
    return (
        f"left, NOT erased: {len(left)} hidden release directory(ies) a failed removal or an "
        f"interrupted build left, which may hold her data: {', '.join(map(str, left))}; the "
        "next release build removes them, or delete them"
    )


def _while_locked(home: str | None, wait: float, call, after: str = "nothing was deleted"):
    if not home:
        return call()
    from tracelab_pipeline.orchestration.forget import InstanceLocked, retry_while_locked

    try:
        return retry_while_locked(call, home, wait)
    except InstanceLocked as exc:
        raise click.ClickException(
            f"{exc}; stop it, or give it more time with --wait; {after}"
        ) from exc


def _in_progress(count: int) -> str:
    return (
        f"{count} of those run(s) still in progress: not deleted (a running run would go on "
        "writing events of a deleted run); run `tracelab forget` again once they finish"
    )


def _landed_left(count: int) -> str:
    return (
        f"{count} landed_files materialization(s) name her: recorded before landing named "
        "contributors by pseudonym, with others' drops; Dagster has no call to delete one event "
        "(docs/orchestration.md, Erase a contributor)"
    )


def _pipeline_settings(module: str | None):
    """The pipeline's anonymization resource (production mode, consent list, key) and a line
    saying where it came from. Its code location not loading must not stop an erasure: then
    the environment alone decides, and the line says so."""
    from tracelab_pipeline.orchestration.forget import CODE_LOCATION, pipeline_anonymization

    module = module or CODE_LOCATION
    _quiet_dagster()
    try:
        settings = pipeline_anonymization(module)
    except Exception as exc:  # any error of user code: fall back, and say so
        from tracelab_pipeline.orchestration.resources import AnonymizationConfig

        settings = AnonymizationConfig()
        where = (
            f"the environment only: the code location {module} did not load "
            f"({type(exc).__name__}: {exc}); give the pipeline's with --module"
        )
    else:
        where = f"the code location {module}"
    mode = "production" if settings.is_production else "demo (not production)"
    return settings, f"pipeline settings from {where}: {mode}"


def _consent_note(handle: str, settings) -> str | None:
    """Forgetting does not withdraw consent: while the handle is on the list (or the list
    takes everyone), her next upload (a `tracelab contribute` cron job) lands and is published
    again. Said before and after deleting, as the list is the operator's to edit. `settings`:
    the pipeline's anonymization resource, whose list and mode landing uses."""
    from tracelab_pipeline.landing.consent import (
        CONTRIBUTORS_ENV,
        CONTRIBUTORS_FILE_ENV,
        DEMO,
        ConsentError,
    )

    try:
        consent = settings.consent()
    except ConsentError:  # no list in production, or an unreadable one: nothing lands
        return None
    if not consent.allows(handle):
        return None
    if consent is DEMO:  # there is no list to take her off
        return (
            "consent: no list of consenting contributors is configured (a demo takes "
            f"everyone): an upload from {handle} after this lands and is published again; set "
            f"{CONTRIBUTORS_ENV} or {CONTRIBUTORS_FILE_ENV} without {handle} if consent was "
            "withdrawn"
        )
    who = "takes everyone" if consent.everyone else f"still names {handle}"
    return (
        f"consent: the list of consenting contributors ({consent.source}) {who}: an upload "
        f"from {handle} after this lands and is published again; take {handle} off the list "
        "if consent was withdrawn"
    )


def _release_staleness(home: str | None, data):
    with _instance(home) as instance:
        from tracelab_pipeline.orchestration.forget import release_staleness

        return release_staleness(data, instance)


def _instance_side(home: str | None, handle: str, apply: bool) -> dict | None:
    if not home:
        return None
    with _instance(home) as instance:
        from tracelab_pipeline.orchestration.forget import forget_in_instance

        return forget_in_instance(instance, handle, apply)


def _quiet_dagster() -> None:
    """Dagster's beta/preview notes on our definitions would bury what forget says."""
    import warnings

    warnings.filterwarnings("ignore", module="dagster")


def _instance(home: str | None):
    """The Dagster instance under `home` (None without one), as a context manager."""
    from contextlib import nullcontext

    _quiet_dagster()
    if not home:
        return nullcontext()
    from tracelab_pipeline.orchestration.forget import instance_at

    return instance_at(home)
