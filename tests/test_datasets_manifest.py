"""The manifest helpers every reader relies on: numeric frame order and per-row validation."""
import pandas as pd
import pytest

from mer_keras.datasets.manifest import (
    ManifestError,
    list_frames,
    make_row,
    select_protocol,
    validate,
)


def _clip(tmp_path, names):
    folder = tmp_path / "clip"
    folder.mkdir()
    for n in names:
        (folder / n).write_bytes(b"x")
    return folder


def test_frames_sort_by_number_not_text(tmp_path):
    folder = _clip(tmp_path, ["img10.jpg", "img9.jpg", "img100.jpg", "img8.jpg", "img11.jpg", "notes.txt"])
    assert list_frames(folder) == ["img8.jpg", "img9.jpg", "img10.jpg", "img11.jpg", "img100.jpg"]


def _manifest(folder, files, onset, apex, offset):
    row = make_row(dataset="t", subject="t/s1", clip="c1", emotion="happiness", onset=onset, apex=apex,
                   offset=offset, frames_dir=folder, frame_files=files, apex_source="annotated", fps=30,
                   source="sheet.xlsx row 2")
    return select_protocol(pd.DataFrame([row]), "three-class")[0]


def test_positions_follow_the_numeric_order(tmp_path):
    folder = _clip(tmp_path, ["img8.jpg", "img9.jpg", "img10.jpg", "img11.jpg", "img12.jpg"])
    df = _manifest(folder, list_frames(folder), 8, 10, 12)
    assert (df.loc[0, "onset_idx"], df.loc[0, "apex_idx"], df.loc[0, "offset_idx"]) == (0, 2, 4)
    assert validate(df, check_frames=True) == []


def test_duplicate_frame_numbers_are_reported(tmp_path):
    folder = _clip(tmp_path, ["img8.jpg", "img9.jpg", "img9.bmp", "img10.jpg"])
    df = _manifest(folder, list_frames(folder), 8, 9, 10)
    with pytest.raises(ManifestError, match="frame number 9 appears in several files"):
        validate(df, check_frames=True)


def test_apex_outside_the_clip_names_row_and_source(tmp_path):
    folder = _clip(tmp_path, ["img1.jpg", "img2.jpg", "img3.jpg"])
    df = _manifest(folder, list_frames(folder), 1, 5, 3)
    with pytest.raises(ManifestError) as e:
        validate(df, check_frames=True)
    text = str(e.value)
    assert "apex 5 is not within onset..offset 1..3" in text and "sheet.xlsx row 2" in text
