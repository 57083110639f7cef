"""Tell PNG, JPEG and DICOM files apart by their first bytes, not by their name.

DICOM files often have no extension at all, and old (ACR-NEMA style) ones have no 128-byte preamble
and no "DICM" marker: for those we accept the file when its first element looks like a real DICOM
tag, so that pydicom's ``force=True`` is only used on files that are very likely DICOM.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Literal

#: "dicom-raw" is DICOM without preamble/marker: it must be read with ``force=True``.
FileFormat = Literal["dicom", "dicom-raw", "png", "jpeg"]

HEAD_BYTES = 132
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)
# Groups a preamble-less dataset plausibly starts with: file meta, or identifying/command groups.
_FIRST_GROUPS = frozenset({0x0000, 0x0002, 0x0008})


def detect_format(head: bytes) -> FileFormat | None:
    """The format of a file from its first :data:`HEAD_BYTES` bytes, or None if not one we read."""
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head.startswith(_JPEG_MAGIC):
        return "jpeg"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if _looks_like_raw_dicom(head):
        return "dicom-raw"
    return None


def sniff_file(path: str | os.PathLike[str]) -> FileFormat | None:
    """Format of the file at ``path`` (None for non-images). Raises OSError if it cannot be read."""
    with open(path, "rb") as fh:
        return detect_format(fh.read(HEAD_BYTES))


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular, readable file whose content is PNG, JPEG or DICOM."""
    p = Path(path)
    try:
        return p.is_file() and sniff_file(p) is not None
    except OSError:
        return False


def _looks_like_raw_dicom(head: bytes) -> bool:
    if len(head) < 8:
        return False
    group, element = struct.unpack_from("<HH", head, 0)
    if group not in _FIRST_GROUPS:
        return False
    if head[4:6] in _VRS:  # explicit VR little endian: a real VR follows the tag
        return True
    # Implicit VR: a 4-byte length follows; group-length elements (xxxx,0000) are UL of length 4,
    # and other leading elements are short strings. A random binary file rarely passes both tests.
    (length,) = struct.unpack_from("<I", head, 4)
    if element == 0x0000:
        return length == 4
    return 0 < length <= 256 and length % 2 == 0
