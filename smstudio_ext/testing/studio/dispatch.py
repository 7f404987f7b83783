"""The hook into moto: Studio actions go to the ``StudioStore``, everything else to moto.

``install()`` wraps ``SageMakerResponse.call_action``: an action listed in ``OPERATIONS`` is
validated against the botocore model and handled by the store; tag actions are served by the
store only for its own ARNs; anything else (models, endpoints, training jobs, ...) goes to moto
unchanged.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from .. import cloudtrail
from ..validation import validation_errors, validation_message
from .errors import AwsError, invalid
from .state import HEX, Record, rand_id
from .store import StudioStore, get_store

log = logging.getLogger(__name__)

Handler = Callable[[StudioStore, Record], Record]
Response = tuple[int, dict[str, str], Any]

_STORE_METHODS = [
    "create_domain", "describe_domain", "list_domains", "update_domain", "delete_domain",
    "create_user_profile", "describe_user_profile", "list_user_profiles", "update_user_profile",
    "delete_user_profile", "create_space", "describe_space", "list_spaces", "update_space",
    "delete_space", "create_app", "describe_app", "list_apps", "delete_app",
    "create_studio_lifecycle_config", "describe_studio_lifecycle_config",
    "list_studio_lifecycle_configs", "delete_studio_lifecycle_config", "create_image",
    "describe_image", "update_image", "delete_image", "list_images", "create_image_version",
    "describe_image_version", "delete_image_version", "list_image_versions",
    "create_app_image_config", "describe_app_image_config", "update_app_image_config",
    "delete_app_image_config", "list_app_image_configs",
]  # fmt: skip


def _op_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


#: Action name (X-Amz-Target suffix) → StudioStore method.
OPERATIONS: dict[str, Handler] = {
    _op_name(name): getattr(StudioStore, name) for name in _STORE_METHODS
}
#: Served by the store only when the ARN is one of ours; otherwise by moto.
TAG_OPERATIONS: dict[str, Handler] = {
    "AddTags": StudioStore.add_tags,
    "ListTags": StudioStore.list_tags,
    "DeleteTags": StudioStore.delete_tags,
}


def _error_response(error: AwsError) -> Response:
    body = json.dumps({"__type": error.code, "message": error.message})
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "x-amzn-ErrorType": error.code,
        "x-amzn-RequestId": rand_id(8, HEX) + "-" + rand_id(4, HEX),
    }
    return error.status, headers, body


def _handle(response: Any, action: str) -> Response | None:
    """Serve ``action`` from the store, or return None to let moto do it."""
    from moto.core.responses import ActionResult

    try:
        params = json.loads(response.body or "{}")
    except ValueError:
        return _error_response(AwsError("SerializationException", "Invalid JSON body"))
    store = get_store(response.current_account, response.region)
    handler = OPERATIONS.get(action)
    if handler is None:
        handler = TAG_OPERATIONS.get(action)
        if handler is None or not store.owns(params.get("ResourceArn")):
            return None
    try:
        errors = validation_errors("sagemaker", action, params)
        if errors:
            raise invalid(validation_message(errors))
        with store.lock:
            store.tick()
            result = handler(store, params)
    except AwsError as error:
        log.debug("sagemaker %s -> %s: %s", action, error.code, error.message)
        cloudtrail.record(response, action, params, None, error)
        return _error_response(error)
    cloudtrail.record(response, action, params, result)
    status, headers, body = response.serialized(ActionResult(result))
    return status, headers, body


def install() -> None:
    """Patch moto's SageMaker response class (idempotent; safe to call from many emulators)."""
    from moto.sagemaker.responses import SageMakerResponse

    if getattr(SageMakerResponse, "_smstudio_installed", False):
        return
    original = SageMakerResponse.call_action

    def call_action(self: Any) -> Any:
        action = self._get_action()
        if action in OPERATIONS or action in TAG_OPERATIONS:
            handled = _handle(self, action)
            if handled is not None:
                return handled
        return original(self)

    SageMakerResponse.call_action = call_action  # type: ignore[method-assign]
    SageMakerResponse._smstudio_installed = True  # type: ignore[attr-defined]
