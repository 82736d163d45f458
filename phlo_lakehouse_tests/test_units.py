from datetime import timedelta

import pytest

from phlo_lakehouse import InvalidDuration, InvalidSize, format_size, parse_duration, parse_size


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
