"""Two ASGI wrappers around MLflow's scoring server: a bound on the request body, and short error bodies.

MLflow's server reads the whole body into memory and its 400s quote the payload back ("Failed to predict data
'<the whole frame>'"); these wrappers answer an oversized body with 413 before it is stored, and rewrite every error
response to one JSON line of at most a few hundred characters that never quotes the input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_MESSAGE_CHARS = 300
_QUOTED = re.compile(r"'[^']{40,}'|\"[^\"]{40,}\"")
_CODES = {400: "BAD_REQUEST", 404: "RESOURCE_DOES_NOT_EXIST", 413: "REQUEST_TOO_LARGE", 504: "TIMEOUT"}


async def _reply(send: Send, status: int, message: str, code: str) -> None:
    body = json.dumps({"error_code": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a request body over ``max_bytes`` (declared, or counted as it arrives); the rest is passed on."""

    def __init__(self, app: App, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is over this server's limit of {self.max_bytes} bytes"
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        over = declared.isdigit() and int(declared) > self.max_bytes
        body, more = bytearray(), True
        received = 0
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            more = message.get("more_body", False)
            if over or received > self.max_bytes:
                over = True
                if received > 4 * self.max_bytes:  # drained enough: answer now, the connection will close
                    break
                continue  # read the rest and drop it, so the client sees the answer rather than a reset
            body += chunk
        if over:
            await _reply(send, 413, too_large, "REQUEST_TOO_LARGE")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


def short_message(raw: bytes) -> tuple[str, str | None]:
    """One line of at most ``MAX_MESSAGE_CHARS`` from an error body, without MLflow's echo of the input."""
    code = None
    try:
        payload = json.loads(raw)
        message = str(payload.get("message", "")) if isinstance(payload, dict) else str(payload)
        code = payload.get("error_code") if isinstance(payload, dict) else None
    except (ValueError, UnicodeDecodeError):
        message = raw[: 4 * MAX_MESSAGE_CHARS].decode("utf-8", "replace")
    if message.startswith("Failed to predict data") and "\nError: " in message:
        message = message.rsplit("\nError: ", 1)[1]
    line = message.strip().splitlines()[0] if message.strip() else "error"
    line = _QUOTED.sub("'...'", line)
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 3] + "..."
    return line, code


class ShortErrors:
    """Rewrites every response with status >= 400 to ``{"error_code", "message"}`` with a short one-line message."""

    def __init__(self, app: App):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    text, code = short_message(b"".join(chunks))
                    await _reply(send, start["status"], text, code or _CODES.get(start["status"], "ERROR"))
                return
            await send(message)

        await self.app(scope, receive, capture)
