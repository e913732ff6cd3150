"""Constants, as ``azure.ai.ml.constants``: asset types, input/output modes, list views."""

from __future__ import annotations

from lakeworks.client.operations import ListViewType
from lakeworks.core.jobs import JobStatus


class AssetTypes:
    """Type names of data and model assets and of inputs/outputs."""

    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"
    MLFLOW_MODEL = "mlflow_model"
    CUSTOM_MODEL = "custom_model"
    TRITON_MODEL = "triton_model"


class InputOutputModes:
    """How data reaches a step."""

    RO_MOUNT = "ro_mount"
    RW_MOUNT = "rw_mount"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    DIRECT = "direct"
    EVAL_MOUNT = "eval_mount"
    EVAL_DOWNLOAD = "eval_download"


LOCAL_COMPUTE_TARGET = "local"

__all__ = ["LOCAL_COMPUTE_TARGET", "AssetTypes", "InputOutputModes", "JobStatus", "ListViewType"]
