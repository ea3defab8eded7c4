"""Tile geometry of the unpadded U-Net: which input sizes work and what they give.

Each level applies two unpadded 3x3 convolutions (-4 px) and, on the way down, a 2x2 max
pooling that needs an even size; the way up doubles the size and loses 4 px per level.
At depth 4 (the paper), a 572 px tile gives a 388 px output: a margin of 92 px per side.
"""

from __future__ import annotations

from ctc_unet.errors import CtcUnetError


class TileSizeError(CtcUnetError):
    """An input size the unpadded network cannot take."""


def _output(n: int, depth: int) -> int | None:
    for _ in range(depth):
        n -= 4
        if n <= 0 or n % 2:
            return None
        n //= 2
    n -= 4
    if n <= 0:
        return None
    for _ in range(depth):
        n = 2 * n - 4
    return n if n > 0 else None


def is_valid(n: int, depth: int = 4) -> bool:
    """True if an input of ``n`` px passes every pooling with an even size."""
    return _output(n, depth) is not None


def output_size(n: int, depth: int = 4) -> int:
    """Output size for an ``n`` px input; TileSizeError names the nearest valid sizes."""
    out = _output(n, depth)
    if out is None:
        lower = [m for m in range(n, 0, -1) if is_valid(m, depth)][:1]
        hint = f"{lower[0]} or " if lower else ""
        raise TileSizeError(f"tile size {n} does not fit the unpadded U-Net of depth {depth}; "
                            f"use {hint}{next_valid(n, depth)}")
    return out


def margin(depth: int = 4) -> int:
    """Pixels per side that the network consumes (92 at depth 4)."""
    n = next_valid(1, depth)
    return (n - output_size(n, depth)) // 2


def next_valid(n: int, depth: int = 4) -> int:
    """The smallest valid input size >= ``n``."""
    m = max(int(n), 1)
    while not is_valid(m, depth):
        m += 1
    return m


def valid_sizes(lo: int, hi: int, depth: int = 4) -> list[int]:
    """All valid input sizes in [lo, hi] (they are 2**depth apart)."""
    return [m for m in range(lo, hi + 1) if is_valid(m, depth)]


def input_for_output(out: int, depth: int = 4) -> int:
    """The smallest valid input whose output covers ``out`` px."""
    return next_valid(out + 2 * margin(depth), depth)
