"""spinwb mkfs takes directories' trees (at the top, or under NAME=) and
--free SIZE; a bad size is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.fs.format import BLOCK, image_tree, parse_super, read_image
from workbench.cli.main import main


def test_a_directory_goes_in_at_the_top_or_under_its_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    (site / "index.html").write_bytes(b"<h1>hi</h1>")
    (site / "img" / "a.gif").write_bytes(b"GIF89a")
    (tmp_path / "notes.txt").write_bytes(b"n")
    image = tmp_path / "d.img"
    assert main(["mkfs", "--free", "64K", str(image), str(site), f"web={site}", str(tmp_path / "notes.txt")]) == 0
    files, dirs = image_tree(image.read_bytes())
    assert files == {"index.html": b"<h1>hi</h1>", "img/a.gif": b"GIF89a", "web/index.html": b"<h1>hi</h1>",
                     "web/img/a.gif": b"GIF89a", "notes.txt": b"n"}  # fmt: skip
    assert dirs == {"img", "web", "web/img"}
    raw = image.read_bytes()
    used = max(e.block + e.nblocks for e in read_image(raw))
    assert parse_super(raw[:BLOCK])[3] - used == 128  # 64 KiB free after the data


@pytest.mark.parametrize("bad", ["lots", "-1", "4G5", ""])
def test_a_size_that_is_not_one_is_refused_in_one_line(
    tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(SystemExit) as e:
        main(["mkfs", "--free", bad, str(tmp_path / "d.img"), str(tmp_path / "f")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "is not a size" in err and "Traceback" not in err and err.count("\n") <= 2, err
