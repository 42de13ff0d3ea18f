"""hatch_build.py: the pinned Lua sources are hash-checked before anything in them runs."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

import hatch_build

SETUP_PY = """
import os
from pathlib import Path
Path(os.environ["LUA_WASM_TEST_MARKER"]).write_text("setup.py ran")
from setuptools import setup
setup(name="lupa", version="2.8")
"""


def _fake_sdist(folder: Path) -> Path:
    """A lupa-2.8.tar.gz whose setup.py leaves a marker file when it runs."""
    folder.mkdir()
    path = folder / hatch_build.LUPA_SDIST
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (
            ("lupa-2.8/setup.py", SETUP_PY),
            ("lupa-2.8/PKG-INFO", "Metadata-Version: 2.1\nName: lupa\nVersion: 2.8\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def offline_index(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """pip finds only the fake sdist (a local find-links folder, no index)."""
    sdist = _fake_sdist(tmp_path / "links")
    marker = tmp_path / "marker"
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(sdist.parent))
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # pip's spelling of --no-build-isolation
    monkeypatch.setenv("LUA_WASM_TEST_MARKER", str(marker))
    return sdist, marker


def test_an_archive_with_another_hash_never_runs(offline_index, tmp_path) -> None:
    _, marker = offline_index
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(hatch_build.BuildError, match="could not download") as error:
        hatch_build._download(dest)
    assert "HASHES" in str(error.value).upper()  # pip's hash-mismatch report
    assert not marker.exists()
    assert not (dest / hatch_build.LUPA_SDIST).exists()


def test_the_fake_archive_would_run_if_its_hash_were_pinned(offline_index, tmp_path) -> None:
    # The control: the same archive with its own hash pinned does run its
    # setup.py, so the test above would see it.
    sdist, marker = offline_index
    dest = tmp_path / "dest"
    dest.mkdir()
    try:  # metadata preparation may still fail here (no `wheel`): it ran, which is the point
        hatch_build._download(dest, sha256=hashlib.sha256(sdist.read_bytes()).hexdigest())
    except hatch_build.BuildError:
        pass
    assert marker.read_text() == "setup.py ran"


def test_our_own_check_follows_pips(tmp_path) -> None:
    sdist = _fake_sdist(tmp_path / "links")
    with pytest.raises(hatch_build.BuildError, match="sha256 mismatch"):
        hatch_build._verify(sdist)


def test_the_build_says_it_starts(capsys) -> None:
    hatch_build.notice(hatch_build.BUILD_NOTICE)
    assert "lua-wasm: building the Lua engine (" in capsys.readouterr().err
