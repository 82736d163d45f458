from datetime import timedelta

import pytest

from phlo_lakehouse import InvalidDuration, InvalidSize, format_size, parse_duration, parse_size
from phlo_lakehouse.units import FILE_SIZES, GROUP_SIZES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("36h", timedelta(hours=36)),
        ("5d", timedelta(days=5)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("P5D", timedelta(days=5)),
        ("PT36H", timedelta(hours=36)),
        ("P1DT12H", timedelta(hours=36)),
        ("p1w", timedelta(weeks=1)),
        (" 3d ", timedelta(days=3)),
        (3600, timedelta(hours=1)),
        (timedelta(days=1), timedelta(days=1)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_accepts_short_iso_and_numbers(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "bad", ["", "5", "5x", "d5", "P", "PT", "5 days", "abc", "-5d", -1, True, None]
)
def test_parse_duration_rejects_malformed_or_negative_with_a_hint(bad):
    with pytest.raises(InvalidDuration) as info:
        parse_duration(bad, name="older_than")
    assert "older_than" in str(info.value)
    assert info.value.hint and "5d" in info.value.hint
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("128MB", 128 * 2**20),
        ("512MiB", 512 * 2**20),
        ("1GB", 2**30),
        ("1.5GiB", int(1.5 * 2**30)),
        ("64k", 64 * 1024),
        ("100", 100),
        ("100B", 100),
        (4096, 4096),
    ],
)
def test_parse_size_uses_binary_units_like_iceberg_docs(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "MB", "12XB", "-1MB", "0", 0, -5, "1.2.3MB", True])
def test_parse_size_rejects_malformed_or_non_positive(bad):
    with pytest.raises(InvalidSize) as info:
        parse_size(bad, name="target_file_size")
    assert "target_file_size" in str(info.value)
    assert "128MB" in info.value.hint


def test_format_size_renders_binary_units():
    assert format_size(134217728) == "128.0 MiB"
    assert format_size(512) == "512 B"


@pytest.mark.parametrize(
    ("value", "within", "accepted"),
    [
        ("1KB", FILE_SIZES, True),
        ("1023", FILE_SIZES, False),
        (1, FILE_SIZES, False),
        ("64GB", FILE_SIZES, True),
        ("65GB", FILE_SIZES, False),
        ("512MB", FILE_SIZES, True),
        ("100GB", GROUP_SIZES, True),
        ("16TB", GROUP_SIZES, True),
        ("17TB", GROUP_SIZES, False),
        ("10", GROUP_SIZES, False),
    ],
)
def test_sizes_outside_their_range_are_refused_naming_the_range(value, within, accepted):
    # the oracle: the range's ends written out in bytes, not through the parser
    ends = {FILE_SIZES: (1024, 64 * 2**30), GROUP_SIZES: (1024, 16 * 2**40)}[within]
    if accepted:
        assert ends[0] <= parse_size(value, name="target_file_size", within=within) <= ends[1]
        return
    with pytest.raises(InvalidSize) as info:
        parse_size(value, name="target_file_size", within=within)
    message = str(info.value)
    assert message.startswith(f"target_file_size={value!r} (") and "\n" not in message
    assert ("below 1.0 KiB" in message) or ("above" in message)
    assert "1.0 KiB to " in info.value.hint and "e.g. 128MB" in info.value.hint


def test_a_range_is_optional():
    assert parse_size("1") == 1
