"""Guard and static_file on their own: what a request may name, and from where."""
from __future__ import annotations

from genlens.web.security import Guard, static_file


def test_static_file_stays_inside_its_root_even_through_symlinks(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "app.js").write_text("ok")
    (tmp_path / "secret.txt").write_text("no")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert static_file(root, "app.js") == (root / "app.js").resolve()
    for rel in ("link.txt", "../secret.txt", "/etc/passwd", "..\\secret.txt", "a\x00b", "", ".", "missing.js"):
        assert static_file(root, rel) is None, rel


def test_guard_hosts_origins_and_tokens():
    g = Guard.for_address("s3cret", "127.0.0.1", 4000)
    assert g.host_ok("localhost:4000") and g.host_ok("127.0.0.1:4000") and g.host_ok("[::1]:4000")
    assert not g.host_ok("127.0.0.1:4001") and not g.host_ok("evil.example:4000") and not g.host_ok(None)
    assert g.origin_ok(None) and g.origin_ok("http://localhost:4000")
    assert not g.origin_ok("null") and not g.origin_ok("https://localhost:4000") and not g.origin_ok("http://evil.example")
    assert g.token_ok(b"token=s3cret", {}) and g.token_ok(b"", {"x-genlens-token": "s3cret"})
    assert not g.token_ok(b"token=s3cre", {}) and not g.token_ok(b"", {})
    ok = {"host": "127.0.0.1:4000"}
    assert g.refusal("/", b"", ok) is None  # the page itself needs no token
    assert "token" in g.refusal("/api/models", b"", ok)
    assert g.refusal("/api/models", b"token=s3cret", ok) is None
    other = Guard.for_address("t", "192.168.1.5", 4000)
    assert other.hosts == {"192.168.1.5:4000"}  # a LAN address: only itself, no loopback names


def test_sort_models_by_panel(tmp_path):
    from genlens.web.models import sort_models

    shipped = sort_models([])
    assert "fmnist-eqgan" in shipped.gans and "fmnist-cnn" in shipped.classifiers
    assert shipped.diffusion == ["fmnist-ddpm", "fmnist-ddpm-text", "scenes-ddpm-layout"]
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "config.json").write_text('{"kind": "gan"}')
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.json").write_text('{"arch": "cnn"}')  # no kind: a classifier, as genlens first wrote
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config.json").write_text('{"kind": "diffusion-text"}')
    got = sort_models([str(tmp_path / "g"), "fmnist-vit", str(tmp_path / "c"), str(tmp_path / "d"), "fmnist-ddpm"])
    assert got.gans == [str(tmp_path / "g")] and got.classifiers == ["fmnist-vit", str(tmp_path / "c")]
    assert got.diffusion == [str(tmp_path / "d"), "fmnist-ddpm"]


def test_screenshots_cover_every_panel_with_unique_files():
    import re
    from pathlib import Path

    from genlens.web.screenshots import SHOTS

    app_js = (Path(__file__).resolve().parents[2] / "src/genlens/web/static/app.js").read_text()
    panels = set(re.findall(r"(\w+): mount\w+", re.search(r"const panels = \{([^}]*)\}", app_js).group(1)))
    assert panels == {"gan", "diffusion", "cam", "units", "inversions"}
    assert panels <= {s.route[1:].split("?")[0] for s in SHOTS}
    assert len({s.name for s in SHOTS}) == len(SHOTS)
