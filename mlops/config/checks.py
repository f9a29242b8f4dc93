"""Cross-field checks that one field's type cannot express: references, ranges, Azure names."""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from mlops.config._types import VM_SIZE_PATTERN
from mlops.config.platform import PERSONAS, PRIVATE_DNS_ZONES
from mlops.config.root import Config
from mlops.errors import Issue

_ENV_NAME = re.compile(r"[a-z][a-z0-9]{1,9}")
_VM_SIZE = re.compile(VM_SIZE_PATTERN)
_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """A hint naming the closest choice, or listing them all when none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(f"'{c}'" for c in choices) if choices else ""


def printable(value: object, limit: int = 60) -> str:
    """`value` safe to show: control characters escaped and long text cut, so a hostile key
    or value cannot forge report lines, CI annotations or terminal colours."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(config: Config) -> list[Issue]:
    """Every cross-field problem of `config`, errors and warnings, in file order of sections."""
    return [
        *_environments(config),
        *_network(config),
        *_identities(config),
        *_compute(config),
        *_data(config),
        *_deployment(config),
        *_names(config),
    ]


Loc = tuple[str | int, ...]


def missing_files(config: Config, root: Path) -> Iterator[Issue]:
    """Warnings for files the config names that do not exist (yet), relative to `root`."""
    named: list[tuple[Loc, str | None]] = [
        (("data", name, "local_path"), asset.local_path) for name, asset in config.data.items()
    ]
    if config.model is not None:
        named += [
            (("model", key), getattr(config.model, key))
            for key in ("pipeline", "scoring_script", "sample_request")
        ]
    for loc, value in named:
        if value is not None and not (root / value).exists():
            yield _warning(
                loc,
                f"'{value}' does not exist (relative to {root.name or root}/)",
                "create it, or fix the path: commands that use it will fail",
            )


def _error(loc: Loc, message: str, hint: str | None = None) -> Issue:
    return Issue(".".join(map(str, loc)), message, hint, loc=loc)


def _warning(loc: Loc, message: str, hint: str | None = None) -> Issue:
    return Issue(".".join(map(str, loc)), message, hint, severity="warning", loc=loc)


#: folder names under infra/ that are not environments
RESERVED_ENVIRONMENTS = {
    "shared": "what the environments share (the model registry)",
    "roles": "the custom role definitions",
}


def _environments(config: Config) -> Iterator[Issue]:
    azure_envs = config.environments.azure
    approver_names = [
        *PERSONAS,
        *(g.name for gs in config.identities.groups().values() for g in gs),
    ]
    for index, (name, env) in enumerate(azure_envs.items()):
        path = ("environments", name)
        if not _ENV_NAME.fullmatch(name):
            yield _environment_name_error(name)
        elif name in RESERVED_ENVIRONMENTS:
            yield _error(
                path,
                f"environment name '{name}' is reserved: infra/{name}/ holds"
                f" {RESERVED_ENVIRONMENTS[name]}",
                "rename the environment, e.g. 'dev', 'test' or 'prod'",
            )
        if env.approval is not None:
            for i, approver in enumerate(env.approval.approvers):
                if approver not in approver_names:
                    yield _error(
                        (*path, "approval", "approvers", i),
                        f"approver '{approver}' is neither a persona nor a group declared in"
                        " identities",
                        did_you_mean(approver, approver_names)
                        + "; declare groups under identities.<persona> with name and object_id",
                    )
        elif index > 0:
            yield _warning(
                path,
                f"deployments into '{name}' need no approval",
                "add `approval: {approvers: [platform_engineers]}`: no model should reach"
                " production unapproved",
            )


def environment_name_errors(environments: object) -> list[Issue]:
    """An error for each invalid Azure environment name under `environments:` as written.

    Run on the YAML before pydantic: an invalid name (say `dev$(id)`) would otherwise fail
    later, deriving a resource-group name from it, once, at line 1; this way every bad name
    is reported at its own line, all at once.
    """
    if not isinstance(environments, dict):
        return []
    return [
        _environment_name_error(name)
        for name in environments
        if name != "local" and not (isinstance(name, str) and _ENV_NAME.fullmatch(name))
    ]


def _environment_name_error(name: object) -> Issue:
    text = str(name)
    odd = sorted({c for c in text if not ("a" <= c <= "z" or "0" <= c <= "9")})
    contains = (
        "; it contains " + ", ".join(f"'{printable(c)}'" for c in odd[:8]) if odd and text else ""
    )
    return Issue(
        f"environments.{printable(text)}",
        f"environment name '{printable(text)}' is invalid: expected 2 to 10 lowercase letters"
        f" or digits, starting with a letter{contains}",
        "environment names become part of Azure resource names, folder names and pipeline"
        " commands; rename it, e.g. 'dev'",
        loc=("environments", name),  # type: ignore[arg-type]  # the key as written, to locate
    )


def _network(config: Config) -> Iterator[Issue]:
    net = config.network
    spaces = [ipaddress.IPv4Network(s) for s in net.address_space]
    for i, a in enumerate(spaces):
        for b in spaces[i + 1 :]:
            if a.overlaps(b):
                yield _error(
                    ("network", "address_space", i),
                    f"address ranges {a} and {b} overlap",
                    "give each address range its own part of the address space",
                )
    subnets = {k: ipaddress.IPv4Network(v) for k, v in net.subnets.model_dump().items()}
    for name, subnet in subnets.items():
        if not any(subnet.subnet_of(space) for space in spaces):
            yield _error(
                ("network", "subnets", name),
                f"subnet {subnet} is outside the address space {', '.join(net.address_space)}",
                "choose a range inside network.address_space, or widen the address space",
            )
    names = list(subnets)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if subnets[a].overlaps(subnets[b]):
                yield _error(
                    ("network", "subnets", b),
                    f"subnet {b} ({subnets[b]}) overlaps subnet {a} ({subnets[a]})",
                    "give each subnet its own address range",
                )
    for zone, resource_id in net.private_dns_zones.existing.items():
        path = ("network", "private_dns_zones", "existing", zone)
        if zone not in PRIVATE_DNS_ZONES:
            yield _error(
                path,
                f"'{zone}' is not a private DNS zone the platform uses",
                did_you_mean(zone, PRIVATE_DNS_ZONES),
            )
        elif resource_id.rsplit("/", 1)[-1].lower() != zone:
            yield _error(
                path,
                f"the resource id names zone '{resource_id.rsplit('/', 1)[-1]}', not '{zone}'",
                "use the id of the zone this key names",
            )


def _identities(config: Config) -> Iterator[Issue]:
    seen: dict[str, str] = {}
    for persona, groups in config.identities.groups().items():
        for i, group in enumerate(groups):
            path = ("identities", persona, i)
            if group.name in PERSONAS:
                yield _error(
                    (*path, "name"),
                    f"group name '{group.name}' is a persona name",
                    "persona names are reserved so approvers can refer to whole personas",
                )
            if group.name in seen:
                yield _error(
                    (*path, "name"),
                    f"group name '{group.name}' is declared twice (also at {seen[group.name]})",
                    "approvers refer to groups by name, so each name must be unique",
                )
            seen.setdefault(group.name, ".".join(map(str, path)))
    envs = list(config.environments.azure)
    for env in config.identities.cicd:
        if env not in envs:
            yield _error(
                ("identities", "cicd", env),
                f"'{env}' is not a declared Azure environment",
                did_you_mean(env, envs),
            )


def _compute(config: Config) -> Iterator[Issue]:
    for name, cluster in config.compute.clusters.items():
        if cluster.min_nodes > cluster.max_nodes:
            yield _error(
                ("compute", "clusters", name, "min_nodes"),
                f"min_nodes ({cluster.min_nodes}) is larger than max_nodes ({cluster.max_nodes})",
                "set min_nodes to 0 so idle clusters cost nothing",
            )


def _data(config: Config) -> Iterator[Issue]:
    for name, asset in config.data.items():
        if asset.local_path is None and asset.azure_path is None:
            yield _error(
                ("data", name),
                f"data asset '{name}' has neither local_path nor azure_path",
                "add local_path (for the local environment) and azure_path (for Azure)",
            )


def _deployment(config: Config) -> Iterator[Issue]:
    dep = config.deployment
    steps = dep.traffic_steps
    if any(b <= a for a, b in itertools.pairwise(steps)):
        yield _error(
            ("deployment", "traffic_steps"),
            f"traffic steps {steps} are not strictly increasing",
            "list growing percentages, e.g. [10, 50, 100]",
        )
    elif steps[-1] != 100:
        yield _error(
            ("deployment", "traffic_steps"),
            f"traffic steps {steps} end at {steps[-1]}%, not 100%",
            "end the rollout with 100 so the new deployment takes all traffic",
        )
    if dep.target == "managed" and not _VM_SIZE.fullmatch(dep.instance_type):
        yield _error(
            ("deployment", "instance_type"),
            f"'{dep.instance_type}' is not an Azure VM size, which a managed endpoint needs",
            "for example Standard_DS3_v2; Kubernetes instance types need target: kubernetes",
        )
    if dep.target == "kubernetes" and (dep.environment or "").startswith("azureml://registries/"):
        yield _error(
            ("deployment", "environment"),
            "Kubernetes online deployments cannot use an environment from a registry",
            "use the workspace's copy, e.g. azureml:AzureML-sklearn-1.5@latest",
        )
    if dep.target == "kubernetes" and not _K8S_NAME.fullmatch(dep.instance_type):
        yield _error(
            ("deployment", "instance_type"),
            f"'{dep.instance_type}' is not a Kubernetes instance type name",
            "use the name of an InstanceType on the cluster, e.g. defaultinstancetype",
        )


def _names(config: Config) -> Iterator[Issue]:
    for env in config.environments.azure:
        if not _ENV_NAME.fullmatch(env):
            continue  # reported by _environments; its names would only repeat it
        for problem in config.environment_names(env).problems():
            endpoint = problem.startswith("online endpoint")
            yield _error(
                ("deployment", "endpoint_name") if endpoint else ("project", "name"),
                f"in environment '{env}': {problem}",
                "shorten deployment.endpoint_name (the environment and a 4-character hash"
                " are appended)"
                if endpoint
                else "shorten project.name or azure.name_prefix",
            )
    for problem in config.shared_names().problems():
        yield _error(
            ("project", "name"),
            f"in the shared stack: {problem}",
            "shorten project.name or azure.name_prefix",
        )
