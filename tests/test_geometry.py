import itertools

import pytest

from ctc_unet.model.geometry import (
    TileSizeError,
    input_for_output,
    is_valid,
    margin,
    next_valid,
    output_size,
    valid_sizes,
)


def test_paper_tile():
    assert output_size(572) == 388
    assert margin(4) == 92


def test_valid_sizes_are_16_apart_at_depth_4():
    sizes = valid_sizes(188, 700)
    assert 572 in sizes and all(b - a == 16 for a, b in itertools.pairwise(sizes))
    assert all(output_size(n) == n - 184 for n in sizes)


def test_invalid_tile_names_neighbours():
    assert not is_valid(570)
    with pytest.raises(TileSizeError, match="556 or 572"):
        output_size(570)
    with pytest.raises(TileSizeError):
        output_size(100)  # too small for depth 4


def test_next_valid_and_input_for_output():
    assert next_valid(500) == 508 and next_valid(572) == 572
    assert input_for_output(388) == 572
    assert output_size(input_for_output(512)) >= 512


def test_other_depths():
    assert margin(2) == 20 and output_size(188, depth=2) == 148
