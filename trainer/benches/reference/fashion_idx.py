"""Fashion-MNIST's gzip IDX files, shared by the reference scripts in this folder."""

import gzip
import struct
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")
# IDX magic numbers: 0x08 = unsigned byte, then the number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801


def read_idx(path, magic):
    """Decodes a gzip IDX file (big-endian header) into a uint8 array of its dimensions."""
    raw = gzip.decompress(Path(path).read_bytes())
    ndim = magic & 0xFF
    header_len = 4 + 4 * ndim
    found, *dims = struct.unpack(f">{1 + ndim}I", raw[:header_len])
    if found != magic:
        raise ValueError(f"{path}: IDX magic {found:#010x}, expected {magic:#010x}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dimensions {dims}")
    return data.reshape(dims)
