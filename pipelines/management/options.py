"""What the management commands share: JSON options, and a service's error as a CommandError."""
import json

from django.core.management.base import CommandError

from pipelines.errors import KrenalisError


def json_option(text: str | None, default=None):
    """The value of an option given as JSON text (`default` when not given); invalid JSON stops the command."""
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"invalid JSON: {exc}") from None


def command_error(exc: KrenalisError) -> CommandError:
    """A service's error as the command prints it: the message, then its cause in parentheses."""
    return CommandError(exc.message + (f" ({exc.cause})" if exc.cause else ""))
