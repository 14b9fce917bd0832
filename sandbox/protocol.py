"""Frames between the host and a zygote: (json length, payload length) then JSON then raw bytes.

The zygote side lives in guest/zygote.py (it cannot import this package inside the jail); the two
must agree on HEADER.
"""

from __future__ import annotations

import asyncio
import json
import struct

HEADER = struct.Struct(">II")
MAX_FRAME = 1 << 30


class ProtocolError(Exception):
    """The peer sent something that is not a frame: it is broken and must be replaced."""


def encode_frame(header: dict, payload: bytes = b"") -> bytes:
    data = json.dumps(header, separators=(",", ":")).encode()
    return HEADER.pack(len(data), len(payload)) + data + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict, bytes]:
    try:
        jlen, plen = HEADER.unpack(await reader.readexactly(HEADER.size))
        if jlen > MAX_FRAME or plen > MAX_FRAME:
            raise ProtocolError(f"frame too large ({jlen}, {plen})")
        header = json.loads(await reader.readexactly(jlen))
        payload = await reader.readexactly(plen) if plen else b""
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("worker closed its channel") from exc
    except ValueError as exc:
        raise ProtocolError(f"malformed frame: {exc}") from exc
    return header, payload
