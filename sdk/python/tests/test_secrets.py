import pytest

from distorch._secrets import MissingSecret, lookup_of, resolve


def test_replaces_references_where_the_task_says_and_keeps_the_rest() -> None:
    lookup = lookup_of({"token": "s3cr3t"})
    given = {"headers": {"Authorization": "Bearer ${ secrets.token } $${ secrets.token }"}, "n": 1,
             "list": ["${ secrets.token }${ secrets.token }", None, True], "open": "${ secrets.token",
             "note": "${ secrets.token }"}
    pointers = ["/headers/Authorization", "/list/0", "/open", "/missing/x"]
    assert resolve(given, pointers, lookup) == {
        "headers": {"Authorization": "Bearer s3cr3t ${ secrets.token }"}, "n": 1,
        "list": ["s3cr3ts3cr3t", None, True], "open": "${ secrets.token", "note": "${ secrets.token }"}
    assert given["headers"]["Authorization"].startswith("Bearer ${")


def test_an_unknown_secret_is_named() -> None:
    with pytest.raises(MissingSecret, match="`other`"):
        resolve(["${ secrets.other }"], ["/0"], lookup_of({}))


def test_reads_the_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTORCH_SECRET_API_TOKEN", "from-env")
    assert resolve("${ secrets.api_token }", [""], lookup_of(None)) == "from-env"
