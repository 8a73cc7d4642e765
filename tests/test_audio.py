"""The guide's microphone level: ceil(10 * log2(rms) / 8), clamped to 0..10."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcstate import audio_level
from rtcstate.audio import MAX_LEVEL, peak_level, root_mean_square
from rtcstate.preflight import camera_test_result, microphone_test_result


@pytest.mark.parametrize(("samples", "level"), [
    ([], 0),
    ([0] * 512, 0),
    ([1] * 512, 0),  # rms 1: log2 is 0
    ([2] * 512, 2),  # ceil(10 * 1 / 8)
    ([16] * 512, 5),  # ceil(10 * 4 / 8)
    ([128] * 512, 9),  # ceil(10 * 7 / 8)
    ([255] * 512, 10),
    ([3, 4] * 256, math.ceil(10 * math.log2(math.sqrt(12.5)) / 8)),
    ([0.25] * 16, 0),  # rms below 1 gives a negative logarithm: clamped to 0
])
def test_levels_follow_the_guides_formula(samples: list[float], level: int) -> None:
    assert audio_level(samples) == level


def test_root_mean_square() -> None:
    assert root_mean_square([3, 4, 3, 4]) == pytest.approx(math.sqrt(12.5))
    assert root_mean_square(iter([2.0, 2.0])) == 2.0
    with pytest.raises(ValueError, match="finite"):
        root_mean_square([1.0, math.inf])


@given(st.lists(st.integers(min_value=0, max_value=255), max_size=1024))
def test_level_is_between_0_and_10_and_0_only_for_rms_up_to_1(samples: list[int]) -> None:
    level = audio_level(samples)
    assert 0 <= level <= MAX_LEVEL
    assert (level == 0) == (root_mean_square(samples) <= 1)


@given(st.lists(st.integers(min_value=0, max_value=127), min_size=1, max_size=256))
def test_louder_is_never_a_lower_level(samples: list[int]) -> None:
    assert audio_level([2 * s for s in samples]) >= audio_level(samples)


def test_preflight_events() -> None:
    assert microphone_test_result([[0] * 64, [0] * 64]).level == 0
    assert microphone_test_result([[0] * 64, [200] * 64]).level == audio_level([200] * 64)
    assert peak_level([]) == 0
    assert camera_test_result(0).frames == 0
    assert camera_test_result(30, at=1.5).at == 1.5
