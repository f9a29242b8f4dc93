"""The one exception hierarchy: the library raises these, only `mlops.cli` picks exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class MlopsError(Exception):
    """Base of every error the tool reports to a user; `hint` names the next thing to try."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class Issue:
    """One problem in an input file, located as precisely as the YAML allows."""

    path: str
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: str = "error"
    loc: tuple[str | int, ...] = ()  # path parts, when keys themselves contain dots

    @property
    def location(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class BadInputError(MlopsError):
    """Something the user wrote is missing, unreadable or invalid (exit code 2); nothing ran."""

    def __init__(
        self, message: str, *, hint: str | None = None, issues: list[Issue] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.issues: list[Issue] = issues or []

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "issues": [i.to_dict() for i in self.issues]}


class ConfigError(BadInputError):
    """mlops.yaml is missing, unreadable or invalid."""


class PipelineError(BadInputError):
    """An Azure ML pipeline or component YAML cannot run: rejected before any step starts."""


class PipelineRefusedError(PipelineError):
    """A pipeline or component file refused before any validator read it: too large, nested
    too deep, not UTF-8 or using itself. The SDK's loaders would hang or overflow on it."""


class NotFoundError(MlopsError):
    """Something the command was asked about does not exist."""


class BackendError(MlopsError):
    """A backend (local or Azure) could not do what was asked."""
