"""Response helpers shared by the blueprints' views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, jsonify, send_file

from app.services import storage
from app.services.prediction import ResultFile
from app.services.preprocessing.upload_templates import UploadTemplate


def send_customer_file(result: ResultFile) -> Response:
    """A download of customer data: an attachment no browser or proxy keeps a copy of."""
    response = send_file(
        result.path,
        mimetype=result.mimetype,
        as_attachment=True,
        download_name=result.download_name,
    )
    response.headers["Cache-Control"] = "no-store"  # replaces send_file's no-cache
    return response


def send_chart(path: Path) -> Response:
    """A chart PNG for the signed-in viewer only.

    Charts show one company's models and predictions, so shared caches must not keep them
    (`private`); the URL stays the same while the picture changes (a new version on the compare
    chart), so the browser revalidates (`no-cache`) and gets a 304 while the file is unchanged.
    """
    response = send_file(path, mimetype="image/png", conditional=True)
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


def send_status(answer: dict[str, Any]) -> Response:
    """A waiting page's JSON status (`services.jobs.progress`), never kept by a cache."""
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


def send_upload_template(template: UploadTemplate) -> Response:
    """The CSV template of an upload form, as an attachment."""
    response = Response(template.csv_bytes(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{template.download_name}"'
    return response


def send_data_file(relative: str, download_name: str) -> Response:
    """A stored data set (customer data) as an attachment that no cache keeps."""
    mimetypes = {"csv": "text/csv", "xlsx": XLSX}
    response = send_file(
        storage.dataset_file(relative),
        mimetype=mimetypes.get(relative.rsplit(".", 1)[-1], "application/octet-stream"),
        as_attachment=True,
        download_name=download_name,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
