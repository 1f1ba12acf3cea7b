from __future__ import annotations

import pytest

from glimpse.domain.artifacts import semver


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "1.0.0"), ("1.2", "1.2.0"), ("1.2.3", "1.2.3"), ("01.2", "1.2.0"), ("1.2-beta", "1.2.0-beta"),
     ("1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"), ("1.2.3+b", "1.2.3+b"), ("1.0.0.4", "1.0.0+4"), (2.5, "2.5.0")],
)  # fmt: skip
def test_lenient_parsing(text: str, expected: str) -> None:
    assert semver.normalize(text) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "x", "v1", "1.2.3-a..b", "1.2.3+b..c", "70000.0.0"])
def test_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        semver.parse(text)


def test_stored_form_sorts_like_semver() -> None:
    ordered = ["0.9.0", "1.0.0-alpha", "1.0.0-alpha.2", "1.0.0-alpha.10", "1.0.0-beta", "1.0.0", "1.0.1", "1.10.0"]
    keys = [(semver.parse(text).prefix, semver.parse(text).suffix) for text in ordered]
    assert keys == sorted(keys)
