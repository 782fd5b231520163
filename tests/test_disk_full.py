"""A full disk: "the server is out of space", and nothing is kept. The data set root is a tiny
tmpfs of the test's own (a real file system that really fills up), so every write fails the way
it would in production: OSError(ENOSPC) from the kernel."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Model, Prediction
from app.services import jobs, registry, retraining, storage
from app.services.environment import ensure_company_models, initialize_developer_environment
from tests import factories
from tests.conftest import UNDER_CI


@pytest.fixture
def tiny_disk(tmp_path):
    """A mounted tmpfs; the test decides its size (`mount(size)`)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            if UNDER_CI:
                pytest.fail(f"CI runs as root and can mount a tmpfs: {result.stderr}")
            pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def _rows(table) -> int:
    return db.session.scalar(select(func.count()).select_from(table))


@pytest.fixture
def sample(original_dataset) -> pd.DataFrame:
    return pd.read_csv(original_dataset, dtype=str, keep_default_na=False)


def _user_client(app):
    user = factories.make_user()
    ensure_company_models(user.company)
    return user, factories.log_in(app.test_client(), user)


def _predict(client, user, data: bytes):
    model = registry.models_for(user)[0]
    return client.post(
        "/user/predict",
        data={"name": "full", "model_id": str(model.id), "file": (io.BytesIO(data), "c.csv")},
        content_type="multipart/form-data",
    )


def test_an_upload_larger_than_the_free_space_is_refused_and_nothing_is_kept(
    make_app, tiny_disk, sample
):
    disk = tiny_disk("1m")
    app = make_app(DATASETS_ROOT=str(disk))
    user, client = _user_client(app)
    data = pd.concat([sample] * 2).to_csv(index=False).encode()  # about 1.9 MB
    for _attempt in range(2):  # a retry keeps nothing either
        response = _predict(client, user, data)
        assert response.status_code == 400
        assert "The server is out of space, so nothing was kept." in response.text
        assert _files(disk) == []
    assert _rows(Dataset) == 0 and _rows(Prediction) == 0


def test_a_result_that_does_not_fit_keeps_neither_the_result_nor_the_upload(
    make_app, tiny_disk, sample
):
    disk = tiny_disk("1m")
    app = make_app(DATASETS_ROOT=str(disk))
    user, client = _user_client(app)
    data = sample.head(4500).to_csv(index=False).encode()  # fits; upload + result do not
    assert 500_000 < len(data) < 900_000
    response = _predict(client, user, data)
    assert response.status_code == 400
    assert "The server is out of space, so nothing was kept." in response.text
    assert _files(disk) == []
    assert _rows(Dataset) == 0 and _rows(Prediction) == 0


def test_a_background_job_on_a_full_disk_fails_with_the_message_and_no_partial_result(
    make_app, tiny_disk, sample
):
    disk = tiny_disk("1m")
    app = make_app(DATASETS_ROOT=str(disk), PREDICTION_BACKGROUND_ROWS=100)
    user, client = _user_client(app)
    response = _predict(client, user, sample.head(4500).to_csv(index=False).encode())
    assert response.status_code == 302
    jobs.wait_for_idle(app)
    db.session.expire_all()
    prediction = db.session.scalars(select(Prediction)).one()
    assert prediction.status == "failed" and prediction.error == storage.OUT_OF_SPACE
    assert storage.OUT_OF_SPACE in client.get(response.headers["Location"]).text
    assert [path.parent.name for path in _files(disk)] == ["uploadToPredict"]  # its input only


def test_a_retrain_whose_combined_data_set_does_not_fit_fails_and_leaves_no_data_set(
    make_app, tiny_disk, sample
):
    disk = tiny_disk("1536k")  # the original data set (950 KB) fits, the combined one does not
    app = make_app(DATASETS_ROOT=str(disk))
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    upload = sample.head(60).assign(customerID=[f"NEW-{i}" for i in range(60)])
    run = retraining.start_retrain(developer, "full disk", factories.upload(upload))
    jobs.wait_for_idle(app)
    db.session.expire_all()
    run = db.session.get(Model, run.id)
    assert run.status == "failed" and run.error == storage.OUT_OF_SPACE
    assert db.session.scalars(select(Dataset).filter_by(kind="combined")).all() == []
    combined_area = disk / "dev" / "combinedDataset"
    assert len(_files(combined_area)) == 1  # the original data set; no partial combined file


def test_an_excel_result_that_does_not_fit_raises_out_of_space_from_its_writing_thread(
    tiny_disk, sample
):
    """The workbook is compressed on a thread of its own: a write that fails there is raised
    to the job all the same, which then fails the prediction and removes the file."""
    import errno

    import pyarrow as pa

    from app.services.prediction.xlsx_result import XlsxResult

    disk = tiny_disk("256k")
    frame = pd.concat([sample] * 3, ignore_index=True)
    added = pa.table({"Churn Probability": [0.5] * len(frame)})
    with (
        pytest.raises(OSError) as raised,
        XlsxResult(disk / "result.xlsx", list(frame.columns), ["Churn Probability"], []) as out,
    ):
        out.write(frame, added)
    assert raised.value.errno == errno.ENOSPC
