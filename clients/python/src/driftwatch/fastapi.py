"""A decorator that logs every call of a FastAPI path operation to driftwatch.

    from driftwatch.fastapi import Client, monitor
    client = Client("http://localhost:8080")

    @app.post("/predict")
    @monitor(client, model="iris")
    def predict(item: Item): ...
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import time
import typing
import uuid
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from ._client import Client

__all__ = ["Client", "monitor"]

log = logging.getLogger("driftwatch")

_REQUEST = "_driftwatch_request"
_RESPONSE = "_driftwatch_response"


def monitor(
    client: Client,
    model: str,
    *,
    model_version: Optional[str] = None,
    prediction: Union[str, Callable[[Any], Any]] = "prediction",
    features: Optional[Callable[[Any], Mapping]] = None,
    tags: Optional[Mapping] = None,
    request_id_header: str = "X-Request-Id",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Logs each call of the decorated path operation as one record of ``model``.

    features: the request's JSON body (nested objects flattened to ``a.b``; lists left out), or its query
    parameters when it has no body; pass ``features=fn(body)`` to choose them yourself.
    prediction: the response's ``prediction`` field; another field name, or ``fn(result)``.
    The request id is the request's X-Request-Id header, or a new UUID; it is echoed in the response.
    An exception raised by the endpoint is logged with status "error" and re-raised unchanged. Logging
    itself never fails the request: a problem building the record is logged as a warning.
    """
    if not isinstance(client, Client):
        raise TypeError(f"client: expected a driftwatch.Client, got {type(client).__name__}")
    if not isinstance(model, str) or not model:
        raise TypeError(f"model: expected a non-empty string, got {model!r}")
    pick = prediction if callable(prediction) else _field(prediction)

    def decorate(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        is_async = asyncio.iscoroutinefunction(endpoint)
        signature, request_name, response_name = _with_request(endpoint)

        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            # The endpoint's own Request/Response parameters if it has them (FastAPI fills only one of
            # each), else the ones added to its signature for the wrapper.
            request: Request = kwargs[request_name] if request_name != _REQUEST else kwargs.pop(_REQUEST)
            response: Response = kwargs[response_name] if response_name != _RESPONSE else kwargs.pop(_RESPONSE)
            request_id = _request_id(request.headers.get(request_id_header))
            started = time.perf_counter()
            try:
                if is_async:
                    result = await endpoint(*args, **kwargs)
                else:
                    result = await run_in_threadpool(endpoint, *args, **kwargs)
            except BaseException as err:
                latency = (time.perf_counter() - started) * 1000
                await _log(request, request_id, latency, "error", None, _describe(err))
                raise
            latency = (time.perf_counter() - started) * 1000
            if isinstance(result, Response):
                # Returned as is by FastAPI: the header goes on it, not on the injected response.
                result.headers[request_id_header] = request_id
                status = "error" if result.status_code >= 400 else "ok"
            else:
                response.headers[request_id_header] = request_id
                status = "ok"
            await _log(request, request_id, latency, status, result, None)
            return result

        async def _log(
            request: Request,
            request_id: str,
            latency: float,
            status: str,
            result: Any,
            error: Optional[str],
        ) -> None:
            try:
                body = await _body(request)
                feats = features(body) if features is not None else _features(body, request)
                client.log(
                    model,
                    request_id,
                    feats,
                    prediction=_prediction(pick(_content(result))) if result is not None else None,
                    model_version=model_version,
                    latency_ms=round(latency, 3),
                    status=status,
                    tags=tags,
                    error=error,
                )
            except Exception:
                log.warning("driftwatch: could not log request %s of %s", request_id, model, exc_info=True)

        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _with_request(endpoint: Callable[..., Any]) -> "tuple[inspect.Signature, str, str]":
    """The endpoint's signature with a Request and a Response parameter for the wrapper, and their names.

    Annotations are resolved here, in the endpoint's module: FastAPI would resolve string annotations
    (``from __future__ import annotations``) in this module's namespace, where they do not exist.
    """
    signature = inspect.signature(endpoint)
    try:
        hints = typing.get_type_hints(endpoint, include_extras=True)
    except Exception:
        hints = {}
    params = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    names = []
    extra = []
    for cls, own in ((Request, _REQUEST), (Response, _RESPONSE)):
        found = next((p.name for p in params if _is_subclass(p.annotation, cls)), None)
        names.append(found or own)
        if found is None:
            extra.append(inspect.Parameter(own, inspect.Parameter.KEYWORD_ONLY, annotation=cls))
    # Keyword-only parameters must come before **kwargs.
    at = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params))
    params[at:at] = extra
    new = signature.replace(parameters=params, return_annotation=hints.get("return", signature.return_annotation))
    return new, names[0], names[1]


def _is_subclass(annotation: Any, cls: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, cls)


def _describe(err: BaseException) -> str:
    status = getattr(err, "status_code", None)
    if status is not None:  # HTTPException: its status and detail say more than its repr
        return f"{type(err).__name__} {status}: {getattr(err, 'detail', '')}"
    return f"{type(err).__name__}: {err}"


def _request_id(header: Optional[str]) -> str:
    # driftwatch takes request ids of 1-256 characters; anything else gets a fresh one.
    if header and len(header) <= 256 and header.isprintable():
        return header
    return str(uuid.uuid4())


async def _body(request: Request) -> Any:
    # FastAPI has read the body already to validate it; Starlette keeps it, so this reads no socket.
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _features(body: Any, request: Request) -> dict:
    if isinstance(body, Mapping):
        out: dict = {}
        _flatten(body, "", out)
        return out
    return dict(request.query_params)


def _flatten(obj: Mapping, prefix: str, out: dict) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{name}.", out)
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[name] = value


def _field(name: str) -> Callable[[Any], Any]:
    if not isinstance(name, str) or not name:
        raise TypeError(f"prediction: expected a field name or a function, got {name!r}")

    def pick(content: Any) -> Any:
        if isinstance(content, Mapping):
            return content.get(name)
        return getattr(content, name, None)

    return pick


def _content(result: Any) -> Any:
    if isinstance(result, Response):
        if "json" not in (result.headers.get("content-type") or ""):
            return None
        try:
            return json.loads(result.body)
        except (ValueError, AttributeError):
            return None
    return result


def _prediction(value: Any) -> Any:
    """A value driftwatch takes as a prediction: a scalar, or class probabilities."""
    if hasattr(value, "dict") and callable(value.dict):  # a pydantic model
        value = value.dict()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy
        value = value.tolist()
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        # Like KServe's V1 protocol: a list of numbers is class probabilities keyed "0", "1", ….
        return {str(i): v for i, v in enumerate(value)}
    return value
