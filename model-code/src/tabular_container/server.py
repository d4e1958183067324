"""The model server: a raw ASGI application answering /ping, /execution-parameters, /invocations.

No web framework: per-request work is header lookup, one decode, one predict, one encode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from typing import Any

from tabular_container.codecs import JSON, RequestError, decoder_for, encoder_for, record_name
from tabular_container.constants import (
    BATCH_STRATEGY_ENV,
    CUSTOM_ATTRIBUTES_HEADER,
    MAX_REQUEST_BYTES,
    MODEL_ATTRIBUTE,
    SINGLE_RECORD,
)
from tabular_container.environment import ExecutionParameters, ServingEnvironment
from tabular_container.predictor import Predictor, UnpredictableRowError

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Reply = tuple[HTTPStatus, bytes, str]
PING_OK = b'{"status":"ok"}'


class ClientGoneError(Exception):
    """The client disconnected before sending its whole body; there is no one to answer."""


def _error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def _too_large(limit: int) -> RequestError:
    return RequestError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"request body is over {limit} bytes (SageMaker's limit); send fewer rows",
    )


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing with 413 as soon as it passes the limit."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            return chunk if not chunks else b"".join([*chunks, chunk])
        chunks.append(chunk)


class InferenceApp:
    """ASGI app; each worker loads the model during start-up, before it accepts a connection.

    So with several workers no request reaches one still loading: /ping is 200 from a worker
    with a model, and 503 with the reason from one whose model failed to load. Given a model
    name, every answer carries it in the CustomAttributes header: the caller learns which model
    answered without asking SageMaker's control plane. GET /execution-parameters tells batch
    transform the settings it was started with (`execution`); SINGLE_RECORD is enforced.
    """

    def __init__(
        self,
        load: Callable[[], Predictor],
        max_body: int = MAX_REQUEST_BYTES,
        model_name: str | None = None,
        execution: ExecutionParameters = ExecutionParameters(),  # noqa: B008 - frozen, shared
    ) -> None:
        self._load = load
        self._max_body = max_body
        self._single_record = execution.batch_strategy == SINGLE_RECORD
        self._execution_parameters = json.dumps(execution.to_json()).encode()
        header = CUSTOM_ATTRIBUTES_HEADER.lower().encode()
        attribute = f"{MODEL_ATTRIBUTE}={model_name}".encode()
        self._attributes = [(header, attribute)] if model_name else []
        self._load_error: str | None = None
        self.predictor: Predictor | None = None
        self._routes: dict[str, tuple[str, Callable[[Scope, Receive], Awaitable[Reply]]]] = {
            "/ping": ("GET", self._ping),
            "/execution-parameters": ("GET", self._execution),
            "/invocations": ("POST", self._invocations),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch on the ASGI scope type."""
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._load_model()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _load_model(self) -> None:
        try:
            predictor = self._load()
        except Exception as error:
            logger.exception("The model failed to load")
            self._load_error = f"the model failed to load: {type(error).__name__}: {error}"
            return
        predictor.skip_checks_in_this_thread()  # the event loop's thread, which serves requests
        self.predictor = predictor
        logger.info("Model loaded: %d features", len(predictor.schema.names))

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra: list[tuple[bytes, bytes]] = []
        try:
            route = self._routes.get(scope["path"])
            if route is None:
                raise RequestError(
                    HTTPStatus.NOT_FOUND,
                    "no such path; use GET /ping, GET /execution-parameters or POST /invocations",
                )
            method, handler = route
            if scope["method"] != method:
                extra.append((b"allow", method.encode()))
                raise RequestError(
                    HTTPStatus.METHOD_NOT_ALLOWED, f"{scope['path']} answers {method} only"
                )
            status, body, content_type = await handler(scope, receive)
        except RequestError as error:
            status, body, content_type = error.status, _error_body(error.message), JSON
        except ClientGoneError:
            return
        except Exception:
            logger.exception("Request failed")
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, _error_body("internal server error")
            content_type = JSON
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *self._attributes,
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _not_ready(self) -> RequestError:
        return RequestError(
            HTTPStatus.SERVICE_UNAVAILABLE, self._load_error or "the model is not loaded yet"
        )

    async def _ping(self, scope: Scope, receive: Receive) -> Reply:
        if self.predictor is None:
            raise self._not_ready()
        return HTTPStatus.OK, PING_OK, JSON

    async def _execution(self, scope: Scope, receive: Receive) -> Reply:
        return HTTPStatus.OK, self._execution_parameters, JSON

    async def _invocations(self, scope: Scope, receive: Receive) -> Reply:
        predictor = self.predictor
        if predictor is None:
            raise self._not_ready()
        headers = dict(scope["headers"])
        decode = decoder_for(headers.get(b"content-type", b"").decode("latin-1"))
        media_type, encode = encoder_for(headers.get(b"accept", b"").decode("latin-1"))
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self._max_body:
            raise _too_large(self._max_body)
        body = await _read_body(receive, self._max_body)
        if not body or body.isspace():
            raise RequestError(HTTPStatus.BAD_REQUEST, "request body is empty")
        rows = decode(body, predictor.schema)
        del body  # a batch body may be 100 MB: the rows hold what it said
        if self._single_record and len(rows) > 1:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"{BATCH_STRATEGY_ENV} is {SINGLE_RECORD}: send one record per request, "
                f"not {len(rows)}",
            )
        try:
            predictions = predictor.predict(rows)
        except UnpredictableRowError as error:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"{record_name(decode, error.index)}: the model gives no finite prediction for "
                "these values; they are too far outside the training data",
            ) from None
        del rows  # nor are the rows needed to encode the answer
        return HTTPStatus.OK, encode(predictions), media_type


def create_app() -> InferenceApp:
    """uvicorn's factory: each worker process builds its app and loads the model itself."""
    env = ServingEnvironment.from_environ()
    return InferenceApp(
        partial(Predictor.load, env.paths.model_dir),
        max_body=env.max_body_bytes,
        model_name=env.model_name,
        execution=env.execution,
    )
