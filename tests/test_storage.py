"""The storage service: paths stay under their roots; failed operations leave no files."""

import pytest

from app.services import storage


def test_a_path_cannot_escape_its_root(app):
    with pytest.raises(storage.StorageError):
        storage.dataset_file("../../etc/passwd")
    assert storage.dataset_file("user/uploadToPredict/x.csv").name == "x.csv"


def test_a_file_is_removed_and_cleanup_called_when_the_block_fails(tmp_path):
    target = tmp_path / "upload.csv"
    target.write_text("a,b\n")
    calls = []
    with (
        pytest.raises(RuntimeError),
        storage.removed_on_failure(target, cleanup=lambda: calls.append(1)),
    ):
        raise RuntimeError("recording the upload failed")
    assert not target.exists()
    assert calls == [1]


def test_a_file_is_kept_when_the_block_succeeds(tmp_path):
    target = tmp_path / "upload.csv"
    target.write_text("a,b\n")
    with storage.removed_on_failure(target):
        pass
    assert target.exists()


def test_an_atomic_write_that_fails_leaves_neither_target_nor_temporary_file(tmp_path):
    target = tmp_path / "model.pkl"
    with pytest.raises(ValueError), storage.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise ValueError("interrupted")
    assert list(tmp_path.iterdir()) == []
