"""``hrgcnet predict clip.mp4``: annotated mp4 and per-frame JSON, and the same exit codes as for images."""

from __future__ import annotations

import json

import pytest

from hrgcnet.cli import main
from hrgcnet.video import probe

FAST = ["--detector", "nanodet", "--no-flip", "--no-progress"]


def test_video_to_mp4_and_json(three_people_clip, tmp_path, capsys):
    clip, _ = three_people_clip
    out, js = tmp_path / "vis" / "drawn.mp4", tmp_path / "poses.json"
    assert main(["predict", str(clip), "--save-vis", str(out), "--json", str(js), "--every", "2", *FAST]) == 0
    summary = capsys.readouterr().out
    assert "8 frame(s)" in summary and "frames/s" in summary and str(out) in summary
    info = probe(out)
    assert (info.frames, info.width, info.height) == (8, 320, 110)
    rows = json.loads(js.read_text())
    assert {r["frame"] for r in rows} == set(range(8)) and all(r["file_name"] == str(clip) for r in rows)
    assert all(isinstance(r["track_id"], int) and len(r["keypoints"]) == 51 for r in rows)
    # a folder gets <stem>.mp4, then the first free name; --max-frames and --no-smooth
    assert main(["predict", str(clip), "--save-vis", str(tmp_path / "vis"), "--max-frames", "2", "--no-smooth",
                 "--json", "-", *FAST]) == 0
    captured = capsys.readouterr()
    assert {r["frame"] for r in json.loads(captured.out)} == {0, 1}
    assert probe(tmp_path / "vis" / "three_people.mp4").frames == 2
    assert main(["predict", str(clip), "--save-vis", str(tmp_path / "vis"), "--max-frames", "1", *FAST]) == 0
    assert probe(tmp_path / "vis" / "three_people_1.mp4").frames == 1


def test_unreadable_video_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_text("no video here\n")
    assert main(["predict", str(bad), "--json", str(tmp_path / "out.json"), *FAST]) == 1
    assert "bad.mp4: error: not a readable video" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("extra, message", [
    (["--every", "0"], "--every must be >= 1"),
    (["--max-frames", "0"], "--max-frames must be >= 1"),
    (["--save-vis", "{clip}"], "is the input video"),
    (["--save-vis", "{tmp}/out.webm"], "written as .mp4"),
    (["{clip}"], "one video at a time"),
])
def test_user_errors_exit_2(three_people_clip, tmp_path, capsys, extra, message):
    clip, _ = three_people_clip
    extra = [e.format(clip=clip, tmp=tmp_path) for e in extra]
    assert main(["predict", str(clip), *extra, *FAST]) == 2
    assert message in capsys.readouterr().err


def test_a_boxes_json_is_for_images(three_people_clip, tmp_path, capsys):
    clip, _ = three_people_clip
    assert main(["predict", str(clip), "--detector", str(tmp_path / "boxes.json")]) == 2
    assert "for a video choose a detector" in capsys.readouterr().err
