"""The parallel driver's input cut into mini-batches: a file, a folder's files, or a folder
holding an `MLTable` file, whose `paths:` are a file list or, with a `read_delimited`
transformation, tabular rows read by pandas. Apart from the scheduler (`parallel.py`) as the
part that knows the input's formats; the YAML subset read when the environment has no PyYAML
is `_mini_yaml`.

Standard library only at module level (pandas and PyYAML are imported inside functions), Python
3.8 syntax outside annotations: see the package docstring.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass
from typing import Any

#: azure-ai-ml's Parallel docstring: 10 files for a file list, 1 MB for tabular data
DEFAULT_FILES = 10
DEFAULT_BYTES = 1024 * 1024


class InputError(Exception):
    """The input or the arguments cannot be used: exit 2, nothing ran."""


@dataclass
class Batch:
    """One mini-batch: absolute file paths, or a pandas DataFrame; `size` is its item count."""

    index: int
    items: Any
    size: int


def load_batches(path: str, mini_batch_size: int | None) -> tuple[str, list[Batch]]:
    """("files" | "tabular", mini-batches) for the input at `path`."""
    if not path:
        raise InputError("no input: input_data's input has no value")
    if not os.path.exists(path):
        raise InputError(f"the input {path!r} does not exist")
    path = os.path.abspath(path)
    if os.path.isfile(path):
        return "files", [Batch(0, [path], 1)]
    table = os.path.join(path, "MLTable")
    if os.path.isfile(table):
        spec = read_mltable(table)
        files = mltable_files(spec, path)
        delimited = _read_delimited(spec)
        if delimited is not None:
            return "tabular", tabular_batches(files, delimited, mini_batch_size or DEFAULT_BYTES)
    else:
        files = folder_files(path)
    size = mini_batch_size or DEFAULT_FILES
    return "files", [
        Batch(n, files[start : start + size], len(files[start : start + size]))
        for n, start in enumerate(range(0, len(files), size))
    ]


def folder_files(folder: str, exclude: str | None = None) -> list[str]:
    """Every file under `folder`, absolute, sorted by relative path (as bytes: any name)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            full = os.path.join(root, name)
            if full != exclude and os.path.isfile(full):
                found.append(full)
    return sorted(found, key=lambda p: os.fsencode(os.path.relpath(p, folder)))


def mltable_files(spec: dict[str, Any], folder: str) -> list[str]:
    """The local files an MLTable's `paths:` name (file, folder, pattern), in order written."""
    paths = spec.get("paths")
    if not isinstance(paths, list) or not paths:
        raise InputError("the MLTable file has no `paths:` list")
    table = os.path.join(folder, "MLTable")
    files: list[str] = []
    for entry in paths:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise InputError(f"MLTable paths: expected `- file|folder|pattern: ...`, got {entry!r}")
        ((kind, value),) = entry.items()
        value = str(value)
        if "://" in value or value.startswith("azureml:"):
            raise InputError(f"MLTable paths: {value!r} is not local; the local run reads files")
        where = os.path.normpath(os.path.join(folder, value))
        if kind == "file":
            if not os.path.isfile(where):
                raise InputError(f"MLTable paths: the file {value!r} does not exist")
            files.append(where)
        elif kind == "folder":
            if not os.path.isdir(where):
                raise InputError(f"MLTable paths: the folder {value!r} does not exist")
            files += folder_files(where, exclude=table)
        elif kind == "pattern":
            matched = [p for p in glob.glob(where, recursive=True) if os.path.isfile(p)]
            files += sorted((p for p in matched if p != table), key=os.fsencode)
        else:
            raise InputError(f"MLTable paths: expected file, folder or pattern, got {kind!r}")
    return files


#: MLTable's encoding names (D:reference-yaml-mltable) as Python codecs
_ENCODINGS = {
    "utf8": "utf-8",
    "utf8bom": "utf-8-sig",
    "ascii": "ascii",
    "latin1": "latin-1",
    "iso88591": "iso-8859-1",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "windows1252": "cp1252",
}
_HEADERS = ("all_files_same_headers", "all_files_different_headers", "from_first_file", "no_header")
#: read_delimited keys read here; others are refused rather than silently ignored
_DELIMITED_KEYS = {
    "delimiter",
    "encoding",
    "header",
    "empty_as_string",
    "include_path_column",
    "infer_column_types",
    "support_multi_line",
}


def _read_delimited(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The `read_delimited` options, or None: no transformation, the paths are a file list."""
    found = None
    for step in spec.get("transformations") or []:
        name = next(iter(step)) if isinstance(step, dict) and step else step
        if name == "read_delimited":
            found = step["read_delimited"] or {}
        else:
            raise InputError(
                f"MLTable transformation {name!r} is not run locally: read_delimited only"
            )
    if found is None:
        return None
    if not isinstance(found, dict):
        raise InputError("MLTable read_delimited: expected a mapping of options")
    unknown = sorted(set(found) - _DELIMITED_KEYS)
    if unknown:
        raise InputError(f"MLTable read_delimited: {', '.join(unknown)} not supported locally")
    if str(found.get("encoding", "utf8")) not in _ENCODINGS:
        raise InputError(f"MLTable read_delimited: unknown encoding {found.get('encoding')!r}")
    if str(found.get("header", "all_files_same_headers")) not in _HEADERS:
        raise InputError(f"MLTable read_delimited: unknown header {found.get('header')!r}")
    return found


def tabular_batches(files: list[str], options: dict[str, Any], size: int) -> list[Batch]:
    """DataFrames of about `size` bytes of rows: rows per batch = size / (file bytes / rows)."""
    try:
        import pandas as pd
    except ImportError:
        raise InputError(
            "tabular input (an MLTable with read_delimited) needs pandas in the step's"
            " environment: add pandas to its conda or pip dependencies"
        ) from None
    header = str(options.get("header", "all_files_same_headers"))
    as_string = _truthy(options.get("empty_as_string", False))
    read: dict[str, Any] = {
        "sep": str(options.get("delimiter", ",")),
        "encoding": _ENCODINGS[str(options.get("encoding", "utf8"))],
        "header": None if header == "no_header" else 0,
    }
    if as_string:
        read.update(keep_default_na=False, na_values=[])
    if not _truthy(options.get("infer_column_types", True)):
        read["dtype"] = str
    batches: list[Batch] = []
    names = None
    for number, file in enumerate(files):
        if header == "from_first_file" and number > 0:
            frame = pd.read_csv(file, **{**read, "header": None, "names": names})
        else:
            frame = pd.read_csv(file, **read)
            names = list(frame.columns)
        if _truthy(options.get("include_path_column", False)):
            frame["Path"] = file
        if frame.empty:
            continue
        per_row = max(1.0, os.path.getsize(file) / len(frame))
        rows = max(1, math.floor(size / per_row))
        for start in range(0, len(frame), rows):
            part = frame.iloc[start : start + rows].reset_index(drop=True)
            batches.append(Batch(len(batches), part, len(part)))
    return batches


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def read_mltable(path: str) -> dict[str, Any]:
    """An MLTable file: PyYAML when the environment has it, else `mini_yaml` (a subset)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    try:
        import yaml
    except ImportError:
        # imported here, not at the top: `_mini_yaml` imports InputError from this module
        from ._mini_yaml import mini_yaml

        data = mini_yaml(text)
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InputError(f"the MLTable file is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise InputError("the MLTable file does not hold a mapping")
    return data
