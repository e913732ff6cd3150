"""The frames a serving front process and its worker processes exchange over a socket pair.

Owns the byte layout, nothing else. Every frame starts with its length, so a reader can split
a stream of them without parsing bodies. All integers are big-endian.

Request (front -> worker)::

    !I  length of everything after this field
    !Q  request number (unique per worker connection; 0 is never used by requests)
    !B  kind      (SCORE, PING, STOP)
    !B  protocol  (AZURE, MLFLOW, V2; 0 for PING/STOP)
    !H  length of the content type, then its bytes (ASCII)
    !H  length of the request id, then its bytes (ASCII; the correlation id collected data
        carries)
    ... the HTTP body, as received

Response (worker -> front)::

    !I  length of everything after this field
    !Q  request number it answers (0: a lifecycle message: READY or FAILED at start)
    !H  HTTP status
    !I  rows in the model call that answered it (0 when not batched or unknown)
    !H  length of the content type, then its bytes
    ... the body

A worker sends ``READY`` (number 0, status 200, a JSON body describing the model: see
``ModelInfo`` in ``lakeworks.serving.worker``) once ``init`` succeeded, or ``FAILED`` (number 0,
status 500, the error as text) and exits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

_LEN = struct.Struct("!I")
_REQUEST = struct.Struct("!QBBH")
_RESPONSE = struct.Struct("!QHIH")
MAX_FRAME = 1 << 31


class Kind(IntEnum):
    SCORE = 1
    PING = 2
    STOP = 3


class Protocol(IntEnum):
    NONE = 0
    AZURE = 1  # POST /score with input_data (or a scoring script's raw body)
    MLFLOW = 2  # POST /invocations: dataframe_split, dataframe_records, instances, inputs, CSV
    V2 = 3  # POST /v2/models/<name>/infer (Open Inference Protocol)


READY_NUMBER = 0


@dataclass(frozen=True, slots=True)
class Request:
    number: int
    kind: Kind
    protocol: Protocol
    content_type: str
    request_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    number: int
    status: int
    rows: int
    content_type: str
    body: bytes


def encode_request(number: int, kind: Kind, protocol: Protocol, content_type: str,
                   request_id: str, body: bytes) -> bytes:
    ctype = content_type.encode("ascii", "replace")
    rid = request_id.encode("ascii", "replace")
    head = _REQUEST.pack(number, kind, protocol, len(ctype))
    rest_len = _REQUEST.size + len(ctype) + 2 + len(rid) + len(body)
    return b"".join((_LEN.pack(rest_len), head, ctype, struct.pack("!H", len(rid)), rid, body))


def decode_request(frame: bytes | memoryview) -> Request:
    """A request from one frame's bytes after the length field."""
    number, kind, protocol, clen = _REQUEST.unpack_from(frame, 0)
    at = _REQUEST.size
    ctype = bytes(frame[at:at + clen]).decode("ascii")
    at += clen
    (rlen,) = struct.unpack_from("!H", frame, at)
    at += 2
    rid = bytes(frame[at:at + rlen]).decode("ascii")
    at += rlen
    return Request(number, Kind(kind), Protocol(protocol), ctype, rid, bytes(frame[at:]))


def encode_response(number: int, status: int, body: bytes, *,
                    content_type: str = "application/json", rows: int = 0) -> bytes:
    ctype = content_type.encode("ascii", "replace")
    head = _RESPONSE.pack(number, status, rows, len(ctype))
    return b"".join((_LEN.pack(_RESPONSE.size + len(ctype) + len(body)), head, ctype, body))


def decode_response(frame: bytes | memoryview) -> Response:
    """A response from one frame's bytes after the length field."""
    number, status, rows, clen = _RESPONSE.unpack_from(frame, 0)
    at = _RESPONSE.size
    ctype = bytes(frame[at:at + clen]).decode("ascii")
    return Response(number, status, rows, ctype, bytes(frame[at + clen:]))


class FrameReader:
    """Splits a byte stream into frames (each without its length field)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the frames now complete, in order."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        at = 0
        size = len(buffer)
        while size - at >= 4:
            (length,) = _LEN.unpack_from(buffer, at)
            if length >= MAX_FRAME:
                raise ValueError(f"frame of {length} bytes is larger than {MAX_FRAME}")
            end = at + 4 + length
            if end > size:
                break
            frames.append(bytes(buffer[at + 4:end]))
            at = end
        if at:
            del buffer[:at]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)
