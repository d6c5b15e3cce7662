"""PNG files written by hand from the specification (RFC 2083): chunks, CRC-32, zlib.

Independent of Pillow, which the app decodes photos with: a picture's pixels are known
here by construction, and a decompression bomb is a few kilobytes of zlib that say
15000 × 15000.
"""

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def gray(rows: list[list[int]]) -> bytes:
    """An 8-bit greyscale PNG of ``rows`` (values 0-255)."""
    height, width = len(rows), len(rows[0])
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter type 0 on every line
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + (_chunk(b"IEND", b""))
    )


def bomb(width: int, height: int) -> bytes:
    """A black 1-bit PNG of ``width`` × ``height``: tiny on disk, huge once decoded."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    line = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(line) for _ in range(height)) + packer.flush()
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
