"""Errors reaching an inbox (a directory or a bucket), for the commands that write or erase
there: what to catch, and what to tell the user."""

from __future__ import annotations


def store_errors() -> tuple[type[BaseException], ...]:
    """OSError, and botocore's own errors, which s3fs lets through unwrapped (no credentials
    found, an endpoint it cannot connect to). Imported only once one is raised."""
    from botocore.exceptions import BotoCoreError

    return (OSError, BotoCoreError)


def describe(exc: BaseException) -> str:
    from botocore.exceptions import NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return (
            f"{exc}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and "
            "AWS_ENDPOINT_URL for a store other than AWS"
        )
    return str(exc)
