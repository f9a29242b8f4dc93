"""Many teams on one platform: the platform's `teams:` and a model repository's `platform:`.

The platform repository's mlops.yaml declares each team (its Entra groups, the model
repositories it owns, who hears about its budget, its quotas); a model repository's
mlops.yaml names its platform and team and holds only the model project's own sections.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Annotated

from pydantic import BeforeValidator, Field, PrivateAttr, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from mlops.config._types import DevOpsName, Email, GitRef, Section, TeamName
from mlops.config.platform import Group, WorkloadIdentity
from mlops.errors import Issue

#: sections a model repository holds; every other section belongs to the platform repository
PROJECT_SECTIONS = ("project", "data", "model", "deployment")
#: the section that binds a model repository to its platform (never in a platform file)
BINDING = "platform"


#: a Kubernetes quantity, positive, with an optional SI or binary suffix ("500m", "2", "4Gi";
#: kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity)
QUANTITY = r"\d+(?:\.\d+)?(?:m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?"


def _quantity(value: object) -> str:
    """A YAML number (`cpu: 2`) or string as a Kubernetes quantity above zero."""
    text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if not (isinstance(text, str) and re.fullmatch(QUANTITY, text) and re.search("[1-9]", text)):
        raise PydanticCustomError(
            "quantity",
            "expected a Kubernetes quantity above zero, for example '2', '500m' or '4Gi';"
            " got '{value}'",
            {"value": str(value), "hint": "cpu in cores or millicores (m), memory in Mi or Gi"},
        )
    return text


Quantity = Annotated[
    str,
    BeforeValidator(_quantity),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": f"^{QUANTITY}$"}, {"type": "number"}]}),
]


class InstanceSize(Section):
    """A team's Azure ML instance type on the shared AKS cluster: what each of its endpoint
    instances requests, and is limited to (the same, so the namespace quota is exact)."""

    # an instance type's `resources` are Kubernetes requests and limits
    # (/azure/machine-learning/how-to-manage-kubernetes-instance-types, "Create a custom
    # instance type")
    cpu: Quantity = Field(description="CPU per instance: cores ('2') or millicores ('500m').")
    memory: Quantity = Field(description="Memory per instance, e.g. '4Gi' or '1500Mi'.")

    @model_validator(mode="after")
    def _memory_in_bytes(self) -> InstanceSize:
        if self.memory.endswith("m"):
            raise ValueError(
                f"memory '{self.memory}' is in thousandths of a byte (suffix m): did you mean"
                f" '{self.memory[:-1]}Mi'?"
            )
        return self


class Quotas(Section):
    """What a team may use per Azure environment, and spend per month."""

    # Azure ML counts dedicated cores per VM family against a quota per subscription and
    # region, and can cap a workspace below it (/azure/machine-learning/how-to-manage-quotas,
    # "Workspace-level quotas"): this is the team's share, per environment
    cores: dict[str, int] = Field(
        default={},
        description="Environment name to the dedicated vCPU cores the team's training compute"
        " may use (a workspace-level quota).",
    )
    endpoint_instances: dict[str, int] = Field(
        default={},
        description="Environment name to the most online-endpoint instances the team's"
        " deployments may run at once, all its endpoints together.",
    )
    instance_type: InstanceSize | None = Field(
        None,
        description="CPU and memory of each of the team's endpoint instances on the shared AKS"
        " cluster; none: Azure ML's default instance type (requests 100m/2Gi, limits 2/2Gi).",
    )
    # an Azure budget's amount is in the billing account's currency, per time grain
    # (/azure/templates/microsoft.consumption/budgets: properties.amount, timeGrain Monthly)
    monthly_budget: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Monthly cost budget of the team's resources, in the billing currency;"
        " none: no budget.",
    )

    @model_validator(mode="after")
    def _non_negative(self) -> Quotas:
        for field in ("cores", "endpoint_instances"):
            for env, value in getattr(self, field).items():
                if value < 0:
                    raise ValueError(f"{field}.{env} must be 0 or more, got {value}")
        return self


class Team(Section):
    """One team on the platform: its people, its model repositories, its limits."""

    data_scientists: list[Group] = Field(
        default=[], description="Entra groups of the team's data scientists."
    )
    engineers: list[Group] = Field(
        default=[],
        description="Entra groups of the team's engineers, who approve its releases with the"
        " platform engineers.",
    )
    repositories: list[DevOpsName] = Field(
        default=[], description="The Azure DevOps repositories of the team's model projects."
    )
    contacts: list[Email] = Field(
        default=[], description="Who hears about the team's budget and quotas."
    )
    quotas: Quotas = Field(default=Quotas())
    identities: dict[str, WorkloadIdentity] = Field(
        default={},
        description="Environment name to the identity of the team's own Azure DevOps service"
        " connection there (workload identity federation): only the team's pipelines may"
        " use it.",
    )


# --- names of a team's Azure DevOps objects (the platform provisions them; a model
# repository's rendered pipelines name them) ---------------------------------------------
def devops_team(team: str, role: str) -> str:
    """The team's Azure DevOps team for `role` (data scientists, engineers): two teams, so
    the data scientists can be denied what the engineers may do (queue cd, edit pipelines)."""
    return f"{team} {role}"


def team_environment(team: str, env: str) -> str:
    """The team's Azure DevOps environment for Azure environment `env`; team and environment
    names hold no hyphen, so `team-env` is never another team's or a plain environment."""
    return f"{team}-{env}"


def team_connection(prefix: str, team: str, env: str) -> str:
    """The team's service connection into Azure environment `env`."""
    return "-".join(p for p in (prefix, "team", team, env) if p)


def team_pipeline(repository: str, kind: str) -> str:
    """A model repository's pipeline (ci, ct, cd)."""
    return f"{repository}-{kind}"


class PlatformRef(Section):
    """Where a model repository's platform definition is, and which team owns the repository."""

    path: str = Field(
        min_length=1,
        description="The platform's mlops.yaml, relative to this file: a local checkout, or"
        " where a pipeline checks the platform repository out.",
    )
    repository: DevOpsName | None = Field(
        None, description="The platform repository in Azure DevOps (for pipelines)."
    )
    ref: GitRef | None = Field(
        None,
        description="Git ref of the platform repository; default refs/heads/main when"
        " `repository` is set.",
    )
    team: TeamName = Field(description="The team (declared in the platform's teams) that owns it.")
    model_repository: DevOpsName | None = Field(
        None,
        description="This repository's name in Azure DevOps, one the team owns; default:"
        " project.name.",
    )

    #: the platform's own project name, set by the loader: the platform's Managed DevOps
    #: Pools (and other platform objects) are named after it, not after this repository
    _platform_project: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _default_ref(self) -> PlatformRef:
        if self.repository is not None and self.ref is None:
            self.ref = "refs/heads/main"
        return self

    @property
    def platform_project(self) -> str | None:
        return self._platform_project

    def bind(self, platform_project: str) -> None:
        """Record the platform's project name (the loader reads the platform's file)."""
        self._platform_project = platform_project

    def checkout_path(self) -> str | None:
        """Where a pipeline checks the platform repository out, relative to
        $(Pipeline.Workspace) (a checkout step's `path`), so that `path` resolves from this
        repository's checkout at $(Pipeline.Workspace)/s; None without `repository`."""
        if self.repository is None:
            return None
        return _checkout_of(self.path)


#: folders of $(Pipeline.Workspace) a pipeline already uses: a, b, s and TestResults are the
#: agent's (/azure/devops/pipelines/build/variables: Build.ArtifactStagingDirectory,
#: Build.BinariesDirectory, Build.SourcesDirectory, Common.TestResultsDirectory); `ct` and
#: `plan` are where cd and infra download their pipeline artifacts, `.pip` is pip's cache
_WORKSPACE_FOLDERS = frozenset({"a", "b", "s", "testresults", "ct", "plan", ".pip"})


def _checkout_of(path: str) -> str:
    # this repository is checked out at $(Pipeline.Workspace)/s (`checkout: self`, `path: s`)
    return posixpath.normpath(posixpath.join("s", posixpath.dirname(path.replace("\\", "/"))))


def _checkout_problem(path: str) -> str | None:
    """Why the platform repository cannot be checked out where `path` points, if it cannot:
    a checkout `path` must stay inside $(Pipeline.Workspace) (multi-repo-checkout docs:
    "relative to $(Agent.BuildDirectory)") and beside this repository, not in it."""
    if posixpath.isabs(path.replace("\\", "/")):
        return f"'{path}' is absolute, and a pipeline checks the platform out beside this one"
    target = _checkout_of(path)
    if target.startswith("..") or target == ".":
        return f"'{path}' leaves the pipeline's workspace, where the platform is checked out"
    if target.split("/")[0].lower() in _WORKSPACE_FOLDERS:
        return (
            f"'{path}' puts the platform checkout at $(Pipeline.Workspace)/{target}, a folder"
            " the pipeline already uses"
        )
    return None


def check(teams: dict[str, Team], environments: list[str]) -> Iterator[Issue]:
    """Problems across teams: quotas for environments the platform lacks, a repository owned
    by two teams (each repository's pipelines and service connections belong to one team)."""
    owner: dict[str, str] = {}
    for name, team in teams.items():
        for field in ("cores", "endpoint_instances"):
            for env in getattr(team.quotas, field):
                if env not in environments:
                    yield _error(
                        ("teams", name, "quotas", field, env),
                        f"'{env}' is not an Azure environment of this platform",
                        "quotas are per Azure environment: one of "
                        + ", ".join(f"'{e}'" for e in environments),
                    )
        for env in team.identities:
            if env not in environments:
                yield _error(
                    ("teams", name, "identities", env),
                    f"'{env}' is not an Azure environment of this platform",
                    "one identity per Azure environment: "
                    + ", ".join(f"'{e}'" for e in environments),
                )
        for index, repository in enumerate(team.repositories):
            if repository.lower() in owner:
                yield _error(
                    ("teams", name, "repositories", index),
                    f"repository '{repository}' is already owned by team"
                    f" '{owner[repository.lower()]}'",
                    "a repository belongs to one team: remove it from one of them",
                )
            owner.setdefault(repository.lower(), name)


def binding_issues(
    ref: PlatformRef, repository: str, teams: dict[str, Team], platform_file: str
) -> Iterator[Issue]:
    """A model repository's binding against its platform: the team exists and owns it."""
    from mlops.config.checks import did_you_mean

    problem = _checkout_problem(ref.path) if ref.repository is not None else None
    if problem:
        yield _error(
            (BINDING, "path"),
            problem,
            "with platform.repository set, name a folder beside this repository, e.g."
            " ../platform/mlops.yaml (the pipelines check the platform out there)",
        )
    team = teams.get(ref.team)
    if team is None:
        declared = list(teams)
        yield _error(
            (BINDING, "team"),
            f"team '{ref.team}' is not declared in {platform_file}",
            (did_you_mean(ref.team, declared) + " Or " if declared else "")
            + f"onboard it there with `mlops team add {ref.team} ...`",
        )
        return
    if repository.lower() not in {r.lower() for r in team.repositories}:
        field = "model_repository" if ref.model_repository else "team"
        owned = ", ".join(f"'{r}'" for r in team.repositories) or "none"
        yield _error(
            (BINDING, field),
            f"repository '{repository}' is not one team '{ref.team}' owns (it owns {owned})",
            f"add it to teams.{ref.team}.repositories in {platform_file}, or set"
            " platform.model_repository to this repository's name",
        )


def _error(loc: tuple[str | int, ...], message: str, hint: str | None = None) -> Issue:
    return Issue(".".join(map(str, loc)), message, hint, loc=loc)
