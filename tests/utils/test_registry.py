"""The one Registry class every family uses."""
from __future__ import annotations

import pytest

from genlens.errors import GenlensError
from genlens.registry import Registry


@pytest.fixture
def reg() -> Registry[dict]:
    r: Registry[dict] = Registry("widget")

    @r.register("beta", kind="b")
    def beta(**kw):
        return {"name": "beta", **kw}

    @r.register("alpha")
    def alpha(**kw):
        return {"name": "alpha", **kw}

    return r


def test_create_available_meta(reg):
    assert reg.available() == ["alpha", "beta"]
    assert reg.create("beta", size=3) == {"name": "beta", "size": 3}
    assert reg.meta("beta") == {"kind": "b"}
    assert "alpha" in reg and "gamma" not in reg
    assert "alpha" in repr(reg)


@pytest.mark.parametrize("call", [lambda r: r.get("gamma"), lambda r: r.create("gamma"), lambda r: r.meta("gamma")])
def test_unknown_name_lists_names(reg, call):
    with pytest.raises(GenlensError) as err:
        call(reg)
    assert str(err.value) == "unknown widget 'gamma'; choose one of: alpha, beta"


def test_empty_registry_says_none():
    with pytest.raises(GenlensError, match=r"choose one of: \(none\)"):
        Registry("thing").get("x")


def test_double_registration_is_refused(reg):
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("alpha")(dict)


def test_genlens_error_is_always_one_line():
    err = GenlensError("first line\n  second   line\tend")
    assert str(err) == "first line second line end"
    assert err.exit_code == 2
