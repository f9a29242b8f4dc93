"""Model-project sections of mlops.yaml: what one model's repository declares."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mlops.config._types import (
    AssetName,
    DataPath,
    EndpointName,
    MetricName,
    ProjectName,
    Section,
    _constrained,
)

#: a guardrail's metric: plain identifiers, so the pipeline input stays one shell-safe word
GuardrailMetric = _constrained(
    "guardrail_metric",
    r"[A-Za-z_][A-Za-z0-9_]{0,63}",
    "a metric name (letters, digits, _)",
    "recall",
)


class Project(Section):
    """The model project: its name is part of every resource, endpoint and pipeline name."""

    name: ProjectName = Field(max_length=24, description="Lowercase name, e.g. churn.")
    description: str = Field("", description="One line on what the model is for.")


class DataAsset(Section):
    """A named dataset: a local path for the local environment, an Azure path for the others."""

    type: Literal["uri_file", "uri_folder", "mltable"] = Field(
        "uri_folder", description="Azure ML data type."
    )
    version: str = Field("1", min_length=1, description="Asset version recorded in lineage.")
    local_path: str | None = Field(
        None, min_length=1, description="File or folder, relative to mlops.yaml."
    )
    azure_path: DataPath | None = Field(None, description="Where the data lives in Azure.")
    description: str = Field("", description="What the data is.")


class Guardrail(Section):
    """Bounds a metric must respect, whatever the primary metric says."""

    min: float | None = Field(
        None, allow_inf_nan=False, description="The lowest acceptable value (inclusive)."
    )
    max: float | None = Field(
        None, allow_inf_nan=False, description="The highest acceptable value (inclusive)."
    )

    @model_validator(mode="after")
    def _bounded(self) -> Guardrail:
        if self.min is None and self.max is None:
            raise ValueError("a guardrail needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Model(Section):
    """The model the pipeline trains, and the gate it must pass to be registered."""

    name: AssetName | None = Field(None, description="Registered model name; default project.name.")
    pipeline: str = Field(
        "pipelines/train.yml", min_length=1, description="Azure ML pipeline YAML that trains it."
    )
    primary_metric: MetricName = Field(description="Metric the gate compares, e.g. roc_auc.")
    direction: Literal["maximize", "minimize"] = Field(
        "maximize", description="Whether a larger primary metric is better."
    )
    threshold: float | None = Field(
        None,
        allow_inf_nan=False,
        description="Absolute bar: the worst acceptable metric value (a floor when maximizing,"
        " a ceiling when minimizing). A model that misses it is never registered.",
    )
    min_improvement: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="How much the challenger must beat the champion.",
    )
    guardrails: dict[GuardrailMetric, Guardrail] = Field(
        default_factory=dict,
        description="Metrics every model must keep within bounds, e.g. recall: {min: 0.95}."
        " Checked on the holdout for challenger and champion and recorded in the gate report;"
        " the primary metric decides only among models that pass every guardrail, and a"
        " challenger that breaks one is never registered.",
    )
    scoring_script: str | None = Field(
        None,
        min_length=1,
        description="Azure ML scoring script (init/run), relative to mlops.yaml.",
    )
    sample_request: str | None = Field(
        None, min_length=1, description="JSON request used by smoke tests, relative to mlops.yaml."
    )


class Deployment(Section):
    """How the model is served online, and how traffic moves to a new version."""

    endpoint_name: EndpointName | None = Field(
        None,
        description="Online endpoint name: the local endpoint's; on Azure each environment's"
        " is NAME-ENV-HASH, unique in its region (see `mlops config show`). Default"
        " <project>-online.",
    )
    target: Literal["managed", "kubernetes"] = Field(
        "managed", description="managed online endpoint, or the platform's shared AKS."
    )
    instance_type: str = Field(
        "Standard_DS3_v2",
        min_length=1,
        description="VM size (managed) or Kubernetes instance type name (kubernetes).",
    )
    instance_count: int = Field(1, ge=1, le=100, description="Instances behind the endpoint.")
    environment: str | None = Field(
        None,
        min_length=1,
        description="Azure ML environment the online deployment runs the scoring script in"
        " (it must hold azureml-inference-server-http and the model's libraries); default:"
        " the curated scikit-learn 1.5 environment (from the azureml registry for managed"
        " endpoints, the workspace's copy for Kubernetes ones). The local endpoint runs in it"
        " and `mlops package` builds on its image.",
    )
    auth_mode: Literal["aad_token", "aml_token", "key"] | None = Field(
        None,
        description="How clients authenticate to the online endpoints: aad_token (Entra ID,"
        " managed endpoints only), aml_token (Kubernetes endpoints) or key. Default:"
        " aad_token for managed, aml_token for Kubernetes; the deployment identity smoke-tests"
        " with a token and holds no right to list keys, so key is refused.",
    )

    @property
    def effective_auth_mode(self) -> str:
        """auth_mode, or the token mode the target supports (Microsoft: aad_token only on
        managed online endpoints; Kubernetes ones take key or aml_token)."""
        if self.auth_mode is not None:
            return self.auth_mode
        return "aml_token" if self.target == "kubernetes" else "aad_token"

    traffic_steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default=[10, 50, 100],
        min_length=1,
        description="Traffic percentages the new deployment receives in turn; ends at 100.",
    )
    # Azure ML managed online endpoints refuse request payloads over 1.5 MB with 413:
    # https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints
    max_request_bytes: int = Field(
        1_500_000,
        ge=1024,
        le=100 * 1024 * 1024,
        description="Largest request body the local endpoint accepts (413 above it); default"
        " 1.5 MB, the limit of Azure ML managed online endpoints.",
    )
