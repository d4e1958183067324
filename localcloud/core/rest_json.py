"""AWS's REST JSON binding, read back: an operation's input members from the URI, headers, query
string and payload, where botocore's model of the operation says they go."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from localcloud.background import HttpRequest
from localcloud.core.validation import operation_model


def rest_params(
    service: str, operation: str, request: HttpRequest, uri: Mapping[str, str]
) -> dict[str, Any]:
    """The members a client set: `uri` holds the (decoded) path labels; a blob payload is bytes.

    Only blob payloads (Lambda's Invoke, SageMaker Runtime's InvokeEndpoint) are read here.
    """
    model = operation_model(service, operation)
    shape = model.input_shape
    query = parse_qs(request.query, keep_blank_values=True)
    params: dict[str, Any] = {}
    for member, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        wire_name = member_shape.serialization.get("name", member)
        if location == "uri" and wire_name in uri:
            params[member] = uri[wire_name]
        elif location == "header" and (value := request.header(wire_name)) is not None:
            params[member] = value
        elif location == "querystring" and wire_name in query:
            params[member] = query[wire_name][-1]
    payload = shape.serialization.get("payload")
    if payload is not None and request.body:
        if shape.members[payload].type_name != "blob":
            raise NotImplementedError(f"{operation}: only blob payloads are read")
        params[payload] = request.body
    return params
