"""Genesis asset paths resolve for an installed kinegrad: the user cache filled from the
genesis-world wheel (explicitly, or on first use), and a clear error naming both places when
neither works."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kinegrad as gs
from kinegrad import assets, morphs

ROOT = Path(__file__).resolve().parents[2]
WHEEL = sorted((ROOT / ".cache" / "wheels").glob("genesis_world-*.whl"))[-1]
PANDA = "xml/franka_emika_panda/panda.xml"


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """As an installed package: no checkout's .cache, an empty user cache in tmp_path."""
    monkeypatch.setattr(morphs, "_REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("KINEGRAD_ASSET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KINEGRAD_ASSET_PATH", raising=False)
    monkeypatch.delenv("KINEGRAD_NO_FETCH", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache"


def test_neither_place_gives_an_error_naming_both(installed, monkeypatch):
    monkeypatch.setenv("KINEGRAD_NO_FETCH", "1")
    with pytest.raises(FileNotFoundError) as e:
        morphs.resolve_file(PANDA)
    msg = str(e.value)
    assert str(installed / "genesis" / PANDA) in msg and "python -m kinegrad.assets fetch" in msg and "make setup" in msg
    assert "KINEGRAD_NO_FETCH" in msg


def test_fetch_from_a_wheel_on_disk_fills_the_cache(installed):
    env = dict(os.environ, KINEGRAD_ASSET_CACHE=str(installed))
    r = subprocess.run([sys.executable, "-m", "kinegrad.assets", "fetch", "--wheel", str(WHEEL)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "extracted into" in r.stderr
    assert morphs.resolve_file(PANDA) == str((installed / "genesis" / PANDA).resolve())


def test_first_use_fetches_once_with_a_message(installed, monkeypatch, capsys):
    calls = []

    def offline_download(requirement, prefix, into):  # the wheel pip would download
        calls.append(requirement)
        return WHEEL

    monkeypatch.setattr(assets, "download_wheel", offline_download)
    scene = gs.Scene(show_viewer=False)
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    scene.build()
    assert arm.n_dofs == 9 and calls == ["genesis-world"]
    err = capsys.readouterr().err
    assert "downloading the genesis-world wheel" in err and str(installed / "genesis") in err
    morphs.resolve_file("urdf/go2/urdf/go2.urdf")  # now in the cache: no second fetch
    assert calls == ["genesis-world"]
