import pytest

from distorch._secrets import MissingSecret, lookup_of, resolve


def test_replaces_references_at_any_depth_and_keeps_the_rest() -> None:
    lookup = lookup_of({"token": "s3cr3t"})
    given = {"headers": {"Authorization": "Bearer ${ secrets.token }"}, "n": 1,
             "list": ["${ secrets.token }${ secrets.token }", None, True], "open": "${ secrets.token"}
    assert resolve(given, lookup) == {"headers": {"Authorization": "Bearer s3cr3t"}, "n": 1,
                                      "list": ["s3cr3ts3cr3t", None, True], "open": "${ secrets.token"}


def test_an_unknown_secret_is_named() -> None:
    with pytest.raises(MissingSecret, match="`other`"):
        resolve(["${ secrets.other }"], lookup_of({}))


def test_reads_the_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTORCH_SECRET_API_TOKEN", "from-env")
    assert resolve("${ secrets.api_token }", lookup_of(None)) == "from-env"
