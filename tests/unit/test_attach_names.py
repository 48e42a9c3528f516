"""Attachment names (paths.clean_attach_name, paths.numbered) and the
--attach-dir/--attach-max-size options."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmuxweb.cli import parse_config
from tmuxweb.paths import ATTACH_NAME_MAX, clean_attach_name, numbered


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("image.png", "image.png"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x.jpg", "x.jpg"),
        ("/abs/path/shot.png", "shot.png"),
        (".bashrc", "bashrc"),
        ("...", "attachment"),
        ("-rf", "rf"),
        ("  spaced name.txt  ", "spaced name.txt"),
        ("a\nb\x00c.png", "a_b_c.png"),
        ("\u202egnp.exe", "gnp.exe"),
        ("", "attachment"),
        ("dir/", "attachment"),
        ("name.tar.gz", "name.tar.gz"),
        ("photo.", "photo"),
    ],
)
def test_names_are_cleaned(raw: str, clean: str) -> None:
    assert clean_attach_name(raw) == clean


def test_overlong_names_are_cut_keeping_the_extension() -> None:
    name = clean_attach_name("é" * 300 + ".jpeg")
    assert name.endswith(".jpeg") and len(name.encode()) <= ATTACH_NAME_MAX
    assert name[:-5] == "é" * ((ATTACH_NAME_MAX - 5) // 2)


def test_an_odd_extension_is_part_of_the_name() -> None:
    name = clean_attach_name("x." + "y" * 200)
    assert len(name.encode()) <= ATTACH_NAME_MAX and name.startswith("x.yyy")


def test_numbered_names() -> None:
    assert [numbered("a.png", n) for n in (1, 2, 3)] == ["a.png", "a-2.png", "a-3.png"]
    assert numbered("README", 2) == "README-2"


def test_attach_options_reach_the_config(tmp_path: Path) -> None:
    assert parse_config([])[0].attach_dir is None
    config, _ = parse_config(["--attach-dir", str(tmp_path / "in"), "--attach-max-size", "5M"])
    assert config.attach_dir == (tmp_path / "in").resolve()
    assert config.attach_max_size == 5 * 1024 * 1024
