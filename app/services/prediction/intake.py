"""Starting a prediction: check the form's values and the model, store and validate the upload,
record it, and score it now (a small file) or queue the scoring job (a large one).

Everything that can be refused is refused before any work: a refused prediction leaves no file
and no row behind.
"""

from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.schema import Developer, Prediction, User, WorkStatus
from app.services import registry, storage
from app.services.errors import DomainError
from app.services.jobs import lifecycle
from app.services.prediction import scoring
from app.services.preprocessing import PREDICTION_COLUMNS, match_columns, read_head
from app.services.storage import datasets
from app.services.storage.uploads import Upload, stored_upload, upload_limits

NAME_MAX = 200

Account = Developer | User


class InvalidPrediction(DomainError):
    """The form's values cannot be used; the message is meant for the person."""


def area_of(account: Account, kind: str) -> str:
    """The data set folder of `kind` for the account's role (dev/… or user/…)."""
    return f"{'dev' if account.role == 'developer' else 'user'}/{kind}"


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidPrediction("Please give the prediction a name.", field="name")
    if len(name) > NAME_MAX:
        raise InvalidPrediction(
            f"The name is too long (at most {NAME_MAX} characters).", field="name"
        )
    return name


def create_prediction(account: Account, name: str, model_id: int, upload: Upload) -> Prediction:
    """Store and validate the upload, record it, and score it (now, or as a background job).

    Raises InvalidPrediction, ModelNotAvailable, ModelIntegrityError or InvalidUpload before
    anything is stored; a refused file leaves no file and no row behind.
    """
    name = _check_name(name)
    model = registry.model_for(account, model_id)
    pipeline = registry.load_model_pipeline(model)  # refuse an altered model before any work
    in_request = current_app.config["PREDICTION_BACKGROUND_ROWS"]
    with stored_upload(upload, area_of(account, "uploadToPredict")) as stored:
        # A small file is read and checked whole; a large one on its header and its row count
        # (a workbook's first rows too), and the job reads it.
        head = read_head(stored.path, stored.file_format, upload_limits(), rows=in_request)
        original = head.frame
        mapping = match_columns(list(original.columns), PREDICTION_COLUMNS)
        dataset = datasets.record_dataset(
            account.company_id,
            "predict_upload",
            name,
            stored.relative,
            row_count=head.row_count,
            column_count=len(original.columns),
            account=account,
            original_filename=stored.original_filename,
            sha256=stored.sha256,
        )
        prediction = Prediction(
            company_id=account.company_id,
            user_id=account.id if account.role == "user" else None,
            developer_id=account.id if account.role == "developer" else None,
            model=model,
            input_dataset=dataset,
            name=name,
            # A workbook's result is a workbook (and a CSV); every other upload's is a CSV.
            result_format="xlsx" if stored.file_format == "xlsx" else "csv",
            row_count=head.row_count,
            status=WorkStatus.QUEUED,
            progress=0,
        )
        db.session.add(prediction)
        db.session.commit()

    if head.complete and len(original) <= in_request:
        scoring.run_scoring(
            prediction,
            lambda: (pipeline, original, mapping),
            draw_charts=False,
            reasons_budget=current_app.config.get("PREDICTION_REASONS_INLINE_SECONDS"),
        )
        if prediction.error == storage.OUT_OF_SPACE:  # a full disk keeps nothing of it
            _discard(prediction)
            raise storage.OutOfSpace()
    else:
        del original
        lifecycle.queue_job(prediction, scoring.JOB_NAME)  # fails it with a message if need be
    return prediction


def _discard(prediction: Prediction) -> None:
    """Remove a prediction that was refused after it was recorded: its row, input row and file."""
    dataset = prediction.input_dataset
    path = storage.dataset_file(dataset.path)
    db.session.delete(prediction)
    db.session.delete(dataset)
    db.session.commit()
    storage.remove_quietly(path)
