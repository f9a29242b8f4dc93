"""Azure ML parallel steps (`type: parallel`) as a spec and the bash command that runs them.

A parallel step runs an entry script's `init()` once per worker and `run(mini_batch)` per
mini-batch of its `input_data`. Locally that is the driver `drivers/parallel.py`, run as
`python -m mlops_local_drivers.parallel` in the task's environment; this module only reads the
YAML (a plain dict) and writes that command, so nothing here imports more than the stdlib.

Sources (D:x = https://learn.microsoft.com/azure/machine-learning/x):
- D:reference-yaml-job-parallel: the keys, their defaults, `task.type: run_function`.
- D:how-to-use-parallel-job-in-pipeline: `input_data: ${{inputs.X}}`, `mini_batch_size`,
  `append_row_to: ${{outputs.Y}}`, `program_arguments`, thresholds and retries.
- azure-ai-ml (Microsoft's SDK) `entities/_builders/parallel.py`: the `mini_batch_size` regex
  and its kb/mb/gb factors, the 10 files / 1 MB defaults;
  `_schema/component/parallel_component.py`: `error_threshold`, `logging_level` values.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import Issue, PipelineError
from mlops.pipeline.model import Where

#: the module the step's command runs (a copy of `mlops/backends/local/drivers`, see there)
DRIVER_MODULE = "mlops_local_drivers.parallel"

#: a `${{inputs.X}}` / `${{outputs.Y}}` reference and nothing else
_INPUT_REF = re.compile(r"\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_OUTPUT_REF = re.compile(r"\$\{\{\s*outputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: azure-ai-ml's regex is `^\d+([kKmMgG][bB])*$`, but it converts only one unit ("1kbkb"
#: passes the regex, then fails its int()): one unit at most here
_MINI_BATCH_SIZE = re.compile(r"^(\d+)([kKmMgG][bB])?$")
_UNITS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3}
#: D:reference-yaml-job-parallel: `logging_level` values (the SDK's enum is case-sensitive)
LOGGING_LEVELS = ("INFO", "WARNING", "DEBUG")
#: D:reference-yaml-job-parallel: retry_settings.timeout, seconds, at most 3 days
MAX_TIMEOUT = 259200


@dataclass(frozen=True)
class ParallelSpec:
    """What the driver needs to run a parallel step, defaults already applied."""

    #: the entry script, absolute, inside `code`
    entry_script: Path
    #: `task.code` resolved against the YAML file's folder: the step's working folder
    code: Path
    #: the `input_data` reference as written, e.g. `${{inputs.images}}`, and its input's name
    input_data: str
    input_name: str
    #: files per mini-batch (folder input) or approximate bytes (tabular input); None = the
    #: SDK's documented default (10 files / 1 MB), applied by the driver that sees the input
    mini_batch_size: int | None = None
    error_threshold: int = -1
    mini_batch_error_threshold: int = -1
    #: None = this machine's cores (D:reference-yaml-job-parallel: CPU default = #cores)
    max_concurrency_per_instance: int | None = None
    instance_count: int = 1
    max_retries: int = 2
    timeout: int = 60
    logging_level: str = "INFO"
    #: as written; may hold `${{inputs.x}}`/`${{outputs.y}}` that the renderer substitutes
    program_arguments: str = ""
    #: the `append_row_to` reference as written, and its output's name (None: summary only)
    append_row_to: str | None = None
    output_name: str | None = None
    #: `task.environment` as written (a reference or an inline mapping)
    environment: Any = None
    environment_variables: dict[str, str] = field(default_factory=dict)

    @property
    def workers(self) -> int | None:
        """Worker processes: instances x concurrency (the v1 formula, applied to v2)."""
        if self.max_concurrency_per_instance is None:
            return None
        return self.instance_count * self.max_concurrency_per_instance


def parse_parallel(data: dict[str, Any], file: Path, where: Where, path: str) -> ParallelSpec:
    """The spec of a parallel step or parallel component from its plain dict.

    `path` prefixes issue paths (e.g. `jobs.score`, or "" for a component file). Every problem
    is collected, then raised as one PipelineError: a user fixes them all in one pass.
    """
    issues: list[Issue] = []
    prefix = f"{path}." if path else ""

    def issue(key: str, message: str, hint: str | None = None) -> None:
        issues.append(where.issue(prefix + key, message, hint))

    declared_inputs = _names(data.get("inputs"))
    declared_outputs = _names(data.get("outputs"))

    # D:how-to-use-parallel-job-in-pipeline: `input_data: ${{inputs.<name>}}`, required
    input_data = data.get("input_data")
    input_name = ""
    if input_data is None:
        issue("input_data", "a parallel step needs `input_data`", "write input_data: ${{inputs.X}}")
    else:
        match = _INPUT_REF.fullmatch(str(input_data).strip())
        if not isinstance(input_data, str) or match is None:
            issue(
                "input_data",
                f"expected a reference to one of the step's inputs, got {_show(input_data)}",
                "write input_data: ${{inputs.X}}, X declared under inputs:",
            )
        else:
            input_name = match.group(1)
            if declared_inputs is not None and input_name not in declared_inputs:
                issue("input_data", f"inputs.{input_name} is not declared under inputs:")

    if "partition_keys" in data:
        # D:reference-yaml-job-parallel: partition_keys wins over mini_batch_size and calls
        # run(mini_batch, mini_batch_context); the local driver makes mini-batches by size only
        issue(
            "partition_keys",
            "partition_keys (mini-batches by key) is not run locally",
            "remove partition_keys to run mini-batches by mini_batch_size, or submit the job"
            " to Azure ML (--env dev)",
        )
    if "output_action" in data:
        issue("output_action", *_OUTPUT_ACTION)

    mini_batch_size = _mini_batch_size(data.get("mini_batch_size"), issue)
    # D:reference-yaml-job-parallel and the SDK's schema: -1 (the default) ignores failures
    error_threshold = _integer(data, "error_threshold", -1, -1, issue)
    mini_batch_error_threshold = _integer(data, "mini_batch_error_threshold", -1, -1, issue)
    concurrency = _integer(data, "max_concurrency_per_instance", None, 1, issue)
    resources = _mapping(data, "resources", issue)
    instance_count = _integer(resources, "instance_count", 1, 1, issue, "resources.")
    retry = _mapping(data, "retry_settings", issue)
    max_retries = _integer(retry, "max_retries", 2, 0, issue, "retry_settings.")
    timeout = _integer(retry, "timeout", 60, 1, issue, "retry_settings.")
    if timeout is not None and timeout > MAX_TIMEOUT:
        issue("retry_settings.timeout", f"at most {MAX_TIMEOUT} seconds (3 days), got {timeout}")

    logging_level = data.get("logging_level", "INFO")
    if logging_level not in LOGGING_LEVELS:
        issue(
            "logging_level",
            f"expected one of {', '.join(LOGGING_LEVELS)}, got {_show(logging_level)}",
            "the value is case-sensitive, as in azure-ai-ml",
        )

    variables = data.get("environment_variables") or {}
    if not isinstance(variables, dict):
        issue("environment_variables", "expected a mapping of names to values")
        variables = {}

    task = _mapping(data, "task", issue)
    if "task" not in data:
        issue("task", "a parallel step needs `task:` (type: run_function, entry_script, ...)")
    entry_script, code = _entry_script(task, file, issue)
    program_arguments = task.get("program_arguments", "")
    if not isinstance(program_arguments, str):
        issue("task.program_arguments", "expected a string of arguments")
        program_arguments = ""
    if task.get("environment") is None and "task" in data:
        # the SDK's ComponentParallelTaskSchema: environment is required
        issue("task.environment", "a parallel task needs an environment")

    append_row_to, output_name = None, None
    if task.get("append_row_to") is not None:
        written = task["append_row_to"]
        match = _OUTPUT_REF.fullmatch(str(written).strip())
        if not isinstance(written, str) or match is None:
            issue(
                "task.append_row_to",
                f"expected a reference to one of the step's outputs, got {_show(written)}",
                "write append_row_to: ${{outputs.Y}}, Y declared under outputs:",
            )
        else:
            append_row_to, output_name = written.strip(), match.group(1)
            if declared_outputs is not None and output_name not in declared_outputs:
                issue("task.append_row_to", f"outputs.{output_name} is not declared under outputs:")
    if "output_action" in task:
        issue("task.output_action", *_OUTPUT_ACTION)

    if issues:
        raise PipelineError(
            f"{file.name}: the parallel step {path or 'in this file'} cannot run",
            hint="fix the keys listed; see"
            " https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-parallel",
            issues=issues,
        )
    assert entry_script is not None and code is not None  # no issue: both were found
    return ParallelSpec(
        entry_script=entry_script,
        code=code,
        input_data=str(input_data).strip(),
        input_name=input_name,
        mini_batch_size=mini_batch_size,
        error_threshold=error_threshold if error_threshold is not None else -1,
        mini_batch_error_threshold=(
            mini_batch_error_threshold if mini_batch_error_threshold is not None else -1
        ),
        max_concurrency_per_instance=concurrency,
        instance_count=instance_count or 1,
        max_retries=max_retries if max_retries is not None else 2,
        timeout=timeout or 60,
        logging_level=str(logging_level),
        program_arguments=program_arguments,
        append_row_to=append_row_to,
        output_name=output_name,
        environment=task.get("environment"),
        environment_variables={str(k): str(v) for k, v in variables.items()},
    )


def driver_command(spec: ParallelSpec) -> str:
    """The bash command that runs the driver over the step's mini-batches.

    `${{inputs.X}}`/`${{outputs.Y}}` stay as written: `expressions.render` substitutes and
    quotes them. Every literal inserted here is `shlex.quote`d; `python` is the first on PATH,
    the step's environment. Program arguments follow `--`, newlines turned into spaces so a
    `|` block stays one command line (as `>-` would write it).
    """
    q = shlex.quote
    words = [
        "python",
        "-m",
        DRIVER_MODULE,
        "--entry-script",
        q(str(spec.entry_script)),
        "--input",
        spec.input_data,
        "--error-threshold",
        q(str(spec.error_threshold)),
        "--mini-batch-error-threshold",
        q(str(spec.mini_batch_error_threshold)),
        "--instance-count",
        q(str(spec.instance_count)),
        "--max-retries",
        q(str(spec.max_retries)),
        "--timeout",
        q(str(spec.timeout)),
        "--logging-level",
        q(spec.logging_level),
    ]
    if spec.mini_batch_size is not None:
        words += ["--mini-batch-size", q(str(spec.mini_batch_size))]
    if spec.max_concurrency_per_instance is not None:
        words += ["--max-concurrency-per-instance", q(str(spec.max_concurrency_per_instance))]
    if spec.append_row_to is not None:
        words += ["--append-row-to", spec.append_row_to]
    arguments = " ".join(spec.program_arguments.split("\n")).strip()
    words.append("--")
    if arguments:
        words.append(arguments)
    return " ".join(words)


_OUTPUT_ACTION = (
    "output_action is not a key of a parallel job: azure-ai-ml (load_job) rejects it in a"
    " pipeline's parallel step and drops it from a parallel component or its task; it belongs"
    " to batch deployments (D:reference-yaml-deployment-batch)",
    "to append run() results (append_row), write task.append_row_to: ${{outputs.Y}}; leave"
    " append_row_to out for summary_only",
)


def _names(declarations: Any) -> set[str] | None:
    """Declared names, or None when the step declares none (nothing to check against)."""
    return {str(k) for k in declarations} if isinstance(declarations, dict) else None


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mapping(data: dict[str, Any], key: str, issue: Any) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        issue(key, f"expected a mapping, got {_show(value)}")
        return {}
    return value


def _integer(
    data: dict[str, Any], key: str, default: int | None, minimum: int, issue: Any, at: str = ""
) -> int | None:
    """An integer setting; numeric strings pass as marshmallow's Integer field lets them."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        hint = "a literal is needed to run locally" if "${{" in str(value) else None
        issue(at + key, f"expected an integer, got {_show(value)}", hint)
        return default
    if value < minimum:
        issue(at + key, f"expected an integer >= {minimum}, got {value}")
        return default
    return value


def _mini_batch_size(value: Any, issue: Any) -> int | None:
    """Files per mini-batch, or bytes: "10kb" = 10240 (the SDK's conversion)."""
    if value is None:
        return None
    if not isinstance(value, str):
        # the SDK's schema declares a string: `mini_batch_size: 3` fails "Not a valid string"
        issue(
            "mini_batch_size",
            f"expected a string, got {_show(value)}",
            f'quote it: mini_batch_size: "{value}"',
        )
        return None
    match = _MINI_BATCH_SIZE.fullmatch(value.strip())
    if match is None or int(match.group(1)) == 0:
        issue(
            "mini_batch_size",
            f'expected a file count such as "10" or a size such as "100kb", got {_show(value)}',
            'digits, then optionally kb, mb or gb, no space ("100 kb" fails the SDK\'s regex)',
        )
        return None
    number, unit = int(match.group(1)), match.group(2)
    return number * _UNITS[unit.lower()] if unit else number


def _entry_script(task: dict[str, Any], file: Path, issue: Any) -> tuple[Path | None, Path | None]:
    """The entry script inside the code folder, both absolute; issues when either is missing."""
    kind = task.get("type")
    if task and kind != "run_function":
        issue(
            "task.type",
            f"expected run_function, got {_show(kind)}",
            "the local run runs entry scripts (run_function) only",
        )
    code_value = task.get("code")
    if code_value is None:
        if task:
            issue("task.code", "a parallel task needs `code:`, the folder holding entry_script")
        return None, None
    text = str(code_value)
    if text.startswith(("azureml:", "git+", "http://", "https://")):
        issue("task.code", f"{_show(text)} is not a local folder", "point code: at a local folder")
        return None, None
    try:
        code = (file.parent / text).resolve()
    except (OSError, ValueError):  # a NUL byte, a name too long, a symlink loop
        issue("task.code", f"{_show(text)} is not a usable path")
        return None, None
    if not code.is_dir():
        issue("task.code", f"the code folder {_show(text)} does not exist")
        return None, code
    script_value = task.get("entry_script")
    if not isinstance(script_value, str) or not script_value.strip():
        issue("task.entry_script", "a run_function task needs `entry_script:`, a Python file")
        return None, code
    try:
        script = (code / script_value).resolve()
    except (OSError, ValueError):
        issue("task.entry_script", f"{_show(script_value)} is not a usable path")
        return None, code
    if not script.is_relative_to(code):
        issue(
            "task.entry_script",
            f"{_show(script_value)} is outside the code folder",
            "Azure ML uploads only the code folder: keep the entry script inside it",
        )
        return None, code
    if not script.is_file():
        issue("task.entry_script", f"{_show(script_value)} does not exist in {_show(str(code))}")
        return None, code
    if "${{" in str(script) or "$[[" in str(script):
        # the command renderer would substitute it even inside quotes
        issue("task.entry_script", f"the path {_show(str(script))} holds `${{{{` or `$[[`")
        return None, code
    return script, code
