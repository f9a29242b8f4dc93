"""Cross-field checks that one field's type cannot express: references, ranges, Azure names."""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from mlops import naming
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
        *team_name_errors(config),
        *devops_name_errors(config),
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
    subnets = {
        k: ipaddress.IPv4Network(v) for k, v in net.subnets.model_dump().items() if v is not None
    }
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
    yield from _network_egress_and_access(config, subnets)
    yield from _environment_address_spaces(config)
    yield from _vpn_and_flow_logs(config)
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


def _network_egress_and_access(
    config: Config, subnets: dict[str, ipaddress.IPv4Network]
) -> Iterator[Issue]:
    net = config.network
    needed = {"firewall": net.egress.type == "firewall", "bastion": net.access.bastion is not None}
    needed["jump_hosts"] = needed["bastion"] and net.access.bastion.jump_host is not None
    needed["gateway"] = needed["dns_resolver"] = net.access.vpn is not None
    for name, used in needed.items():
        if used and name not in subnets:
            yield _error(
                ("network", "subnets", name),
                f"no range for subnet {name}: the address space is too small to derive one",
                "set network.subnets." + name,
            )
        # an inbound endpoint's subnet: /28 or larger (/azure/dns/dns-private-resolver-overview)
        elif used and name == "dns_resolver" and subnets[name].prefixlen > 28:
            yield _error(
                ("network", "subnets", name),
                f"subnet {name} ({subnets[name]}) is smaller than the /28 Azure requires",
                "give it a /28 or larger range",
            )
        # Azure's own rule: /azure/firewall/firewall-faq, /azure/bastion/configuration-settings
        elif used and name in ("firewall", "bastion") and subnets[name].prefixlen > 26:
            yield _error(
                ("network", "subnets", name),
                f"subnet {name} ({subnets[name]}) is smaller than the /26 Azure requires",
                "give it a /26 or larger range",
            )
    if net.egress.type == "hub_firewall":
        if net.access.hub is None:
            yield _error(
                ("network", "egress", "type"),
                "egress through the hub's firewall needs network.access.hub",
                "name the hub's virtual network in network.access.hub.virtual_network_id",
            )
        if net.egress.firewall_private_ip is None:
            yield _error(
                ("network", "egress", "firewall_private_ip"),
                "egress through the hub's firewall needs the firewall's private IP",
                "set network.egress.firewall_private_ip",
            )


def _vpn_and_flow_logs(config: Config) -> Iterator[Issue]:
    """A VPN gateway's client pools, and flow logs, against the environments' networks."""
    net = config.network
    envs = list(config.environments.azure)
    vpn = net.access.vpn
    if vpn is not None:
        if net.mode != "vnet":
            yield _error(
                ("network", "access", "vpn"),
                "a VPN gateway needs the environment's own virtual network",
                "set network.mode: vnet, or remove network.access.vpn",
            )
        if net.access.hub is not None and net.access.hub.use_remote_gateways:
            # a network with its own gateway cannot use the hub's
            # (/azure/virtual-network/virtual-network-peering-overview, "Gateway transit")
            yield _error(
                ("network", "access", "hub", "use_remote_gateways"),
                "cannot be true with network.access.vpn: the network has its own gateway",
                "connect through the hub's gateway (remove vpn) or through this one",
            )
        try:
            pools = vpn.pools(envs)
            spaces = net.environment_addresses(envs)
        except ValueError as exc:
            yield _error(("network", "access", "vpn", "client_address_pool"), str(exc))
            return
        taken = [
            (f"environment {env}", ipaddress.IPv4Network(space, strict=False))
            for env, a in spaces.items()
            for space in a.address_space
        ]
        if net.access.hub is not None:
            taken += [("the hub", ipaddress.IPv4Network(x)) for x in net.access.hub.address_space]
        for env, pool in pools.items():
            for owner, space in taken:
                if ipaddress.IPv4Network(pool).overlaps(space):
                    yield _error(
                        ("network", "access", "vpn", "client_address_pool"),
                        f"environment {env}'s VPN client pool {pool} overlaps {owner} ({space})",
                        "choose a client_address_pool outside every network, e.g. 172.16.0.0/24",
                    )
    flow = net.flow_logs
    if flow is not None:
        if net.mode != "vnet":
            yield _error(
                ("network", "flow_logs"),
                "flow logs are of the environment's own virtual network",
                "set network.mode: vnet, or remove network.flow_logs",
            )
        for env, spec in config.environments.azure.items():
            region = spec.location or config.azure.location
            if region is None or region not in flow.regions:
                yield _error(
                    ("network", "flow_logs", "regions"),
                    f"environment {env} is in {region or 'no region'}, which names no"
                    " Network Watcher",
                    f"add {region or '<region>'}: {{network_watcher_id: ...,"
                    " storage_account_id: ...}",
                )


def _environment_address_spaces(config: Config) -> Iterator[Issue]:
    """Environments that peer with one hub (or with each other) need disjoint ranges."""
    net = config.network
    envs = list(config.environments.azure)
    for env in net.address_spaces:
        if env not in envs:
            yield _error(
                ("network", "address_spaces", env),
                f"'{env}' is not an Azure environment",
                did_you_mean(env, envs),
            )
    try:
        addresses = net.environment_addresses(envs)
    except ValueError as exc:
        yield _error(("network", "address_space"), str(exc), "choose a lower address range")
        return
    ranges = [
        (env, ipaddress.IPv4Network(space, strict=False))
        for env, a in addresses.items()
        for space in a.address_space
    ]
    if net.access.hub is not None:
        ranges += [("the hub", ipaddress.IPv4Network(s)) for s in net.access.hub.address_space]
    for (env_a, a), (env_b, b) in itertools.combinations(ranges, 2):
        if env_a != env_b and a.overlaps(b):
            loc = (
                ("network", "address_spaces", env_b)
                if env_b in net.address_spaces
                else ("network", "address_space")
            )
            yield _error(
                loc,
                f"the address spaces of {_env(env_a)} ({a}) and {_env(env_b)} ({b}) overlap",
                "give each environment its own range in network.address_spaces, or remove"
                " the override so the ranges are derived",
            )
    for env, a in addresses.items():
        space = [ipaddress.IPv4Network(s, strict=False) for s in a.address_space]
        for name, subnet in a.subnets.items():
            if env in net.address_spaces and not any(
                ipaddress.IPv4Network(subnet).subnet_of(s) for s in space
            ):
                yield _error(
                    ("network", "address_spaces", env),
                    f"environment {env}: subnet {name} ({subnet}) is outside {a.address_space}",
                    "keep the override the same size as network.address_space",
                )


def _env(name: str) -> str:
    return name if name == "the hub" else f"environment {name}"


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
    ids = config.identities
    workload = ids.training or ids.deployment or ids.cicd or ids.platform
    if len(envs) > 1 and workload and ids.promotion is None:
        yield _warning(
            ("identities", "promotion"),
            "is not set: only the promotion identity may write the shared registry, so CT"
            " cannot promote a model and cd never deploys",
            "an app registration or managed identity: {client_id, object_id}",
        )
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
    if config.deployment.target == "kubernetes":
        yield from _router_tls(config)


def _router_tls(config: Config) -> Iterator[Issue]:
    """HTTPS on the AKS inference router needs a host name and exactly one certificate
    source, or the extension install fails ("you need to specify either the sslSecret
    configuration setting or a combination of sslKeyPemFile and sslCertPemFile":
    /azure/machine-learning/how-to-secure-kubernetes-online-endpoint)."""
    loc = ("compute", "kubernetes", "tls")
    tls = config.compute.kubernetes.tls
    if tls is None:
        yield _warning(
            loc,
            "the inference router serves HTTP (allowInsecureConnections), which Microsoft"
            " recommends only for development or testing",
            "set compute.kubernetes.tls (cname and kubernetes_secret or key_vault) for HTTPS",
        )
        return
    sources = [s for s in ("kubernetes_secret", "key_vault") if getattr(tls, s) is not None]
    if len(sources) != 1:
        yield _error(
            loc,
            "HTTPS on the inference router needs one certificate source, got "
            + (" and ".join(sources) if sources else "none"),
            "set compute.kubernetes.tls.kubernetes_secret or compute.kubernetes.tls.key_vault",
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
    yield from _auth_mode(dep.target, dep.auth_mode)
    if dep.target == "kubernetes" and not _K8S_NAME.fullmatch(dep.instance_type):
        yield _error(
            ("deployment", "instance_type"),
            f"'{dep.instance_type}' is not a Kubernetes instance type name",
            "use the name of an InstanceType on the cluster, e.g. defaultinstancetype",
        )


#: https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-online-endpoint
#: ("Only managed online endpoints support Microsoft Entra token (aad_token)")
AUTH_MODES_SOURCE = (
    "https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-online-endpoint"
)


def _auth_mode(target: str, auth_mode: str | None) -> Iterator[Issue]:
    """Token modes only: the deployment identity's role scores with a token (score/action for
    aad_token, token/action for aml_token) and holds no right to list endpoint keys, so a
    key endpoint could not be smoke-tested by `mlops deploy`, and nobody should hold its
    keys (AUTH_MODES_SOURCE: keys are the lowest security level)."""
    token = "aml_token" if target == "kubernetes" else "aad_token"
    if auth_mode == "key":
        yield _error(
            ("deployment", "auth_mode"),
            "key authentication is not supported: the deployment identity smoke-tests with a"
            " token and no role lists endpoint keys",
            f"use {token} (or leave auth_mode unset)",
        )
    elif auth_mode == "aad_token" and target == "kubernetes":
        yield _error(
            ("deployment", "auth_mode"),
            "Kubernetes online endpoints do not support aad_token (Microsoft Entra tokens work"
            " on managed online endpoints only)",
            "use aml_token (or leave auth_mode unset)",
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


def team_names(config: Config, env: str, team: str) -> naming.TeamNames:
    """The names of `team`'s own resources in Azure environment `env` (what render uses)."""
    spec = config.environments.azure[env]
    return naming.team_names(
        prefix=config.azure.name_prefix,
        project=config.project.name,
        env=env,
        team=team,
        resource_group=spec.resource_group or "",
        subscription_id=spec.subscription_id or config.azure.subscription_id,
    )


def team_name_errors(config: Config) -> list[Issue]:
    """A team's resource names that break Azure's rules, at the team's line: a long team and
    environment name together overflow a storage account's 24 characters."""
    return [
        _error(
            ("teams", team),
            f"in environment '{env}': {problem}",
            "shorten the team's or the environment's name",
        )
        for team in config.teams
        for env in config.environments.azure
        if _ENV_NAME.fullmatch(env)  # else reported by _environments
        for problem in team_names(config, env, team).problems()
    ]


#: environment names that are already names of Azure DevOps objects mlops makes: the service
#: connections `<prefix>-<project>-<env>` sit beside `<prefix>-<project>-promotion` and
#: `-platform` (each team's `<prefix>-team-<team>-promotion` too), and `platform` is the
#: Azure DevOps environment of infra.yml's provision stage (render/pipelines/_common.py);
#: other suffixes (`-off-hours`) hold a hyphen, which no environment name does
DEVOPS_RESERVED = {
    "promotion": "the Azure DevOps service connection through which CT promotes models",
    "platform": "the Azure DevOps service connection and environment of infra.yml",
}


def devops_name_errors(config: Config) -> list[Issue]:
    """An environment named like an Azure DevOps object mlops makes, at its line: its service
    connection (and environment) would be that object, with another identity and checks."""
    return [
        _error(
            ("environments", name),
            f"environment name '{name}' is reserved for {DEVOPS_RESERVED[name]}",
            "rename the environment, e.g. 'dev', 'test' or 'prod'",
        )
        for name in config.environments.azure
        if name in DEVOPS_RESERVED
    ]
