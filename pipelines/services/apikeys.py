"""Minting API keys. The plain key exists only in the return value: it is shown once."""
from .. import apikeys
from ..errors import BadRequest
from ..ids import create_with_random_id
from ..models import APIKey, Workspace
from ..validation import check_text


def api_key_create(*, name: str, workspace: Workspace | None = None) -> tuple[APIKey, str]:
    check_text(name, "name", 100)
    if workspace is not None and not Workspace.objects.filter(id=workspace.id).exists():
        raise BadRequest(f"workspace {workspace.id} does not exist")
    key = apikeys.generate_key()
    record = create_with_random_id(APIKey, name=name, workspace=workspace, digest=apikeys.digest(key),
                                   hint=apikeys.hint(key))
    return record, key
