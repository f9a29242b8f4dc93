"""The platform's custom roles, each an allow-list built from Microsoft's operation list.

Every role grants named operations (see `operations`), not a built-in role minus exceptions:
an operation Azure adds later is granted to nobody until it is added here on purpose. Reads
are the one wildcard (`*/read`), minus the three reads that return secrets.

What no custom role grants, and why (the README's role table repeats it):
- creating or scaling compute by any route: `computes/write|delete`, online, batch and
  serverless endpoints and their deployments (except the operator's and the deployment
  identity's own endpoint work);
- changing the network: outbound rules, private endpoint connections and their approval,
  managed network provisioning;
- revealing secrets: every list-keys and list-secrets action, storage-account keys,
  notebook keys and tokens, workspace metadata secrets, endpoint keys and tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.rbac.permissions import Permission
from mlops.rbac.roles import Role, derived_guid

MARKER = "Managed by mlops"
W = "Microsoft.MachineLearningServices/workspaces"
R = "Microsoft.MachineLearningServices/registries"

#: reads that return secrets, taken back from every `*/read` below
SECRET_READS = (
    f"{W}/listNotebookKeys/read",
    f"{W}/listNotebookAccessToken/read",
    f"{W}/metadata/secrets/read",
)
READ_WORKSPACE = (f"{W}/read", f"{W}/*/read")
READ_ALL = ("*/read",)

#: the data scientist's work in the development workspace, and the training identity's
DATA_SCIENCE = (
    # submit jobs (to existing compute: see `serverless`), cancel and clean them up
    f"{W}/jobs/write",
    f"{W}/jobs/delete",
    f"{W}/jobs/cancel/action",
    f"{W}/codes/write",
    f"{W}/codes/versions/write",
    # experiments and their runs, metrics and artifacts (MLflow)
    f"{W}/experiments/write",
    f"{W}/experiments/runs/write",
    f"{W}/metrics/resource/write",
    f"{W}/metadata/artifacts/write",
    f"{W}/metadata/snapshots/write",
    # data assets, environments, components, models
    f"{W}/data/write",
    f"{W}/data/versions/write",
    f"{W}/environments/write",
    f"{W}/environments/versions/write",
    f"{W}/environments/build/action",
    # Microsoft: submitting a v2 job reads the environment with its secrets (residual risk)
    f"{W}/environments/readSecrets/action",
    f"{W}/components/write",
    f"{W}/components/versions/write",
    f"{W}/models/write",
    f"{W}/models/versions/write",
)

#: the platform engineer's operations work: traffic, scale, rollback, start/stop, cancel
OPERATIONS = (
    f"{W}/onlineEndpoints/write",
    f"{W}/onlineEndpoints/deployments/write",
    f"{W}/onlineendpoints/deployments/getlogs/action",
    # scale an existing cluster; Azure RBAC cannot tell a scale from a create (README)
    f"{W}/computes/write",
    f"{W}/computes/start/action",
    f"{W}/computes/stop/action",
    f"{W}/computes/restart/action",
    f"{W}/jobs/cancel/action",
)

#: the deployment identity's work in its own environment
DEPLOYMENT = (
    f"{W}/onlineEndpoints/write",
    f"{W}/onlineEndpoints/delete",
    f"{W}/onlineEndpoints/deployments/write",
    f"{W}/onlineEndpoints/deployments/delete",
    f"{W}/onlineendpoints/deployments/getlogs/action",
    # smoke tests score with a token, never with the endpoint's keys: an Entra token
    # (aad_token, managed endpoints) or an Azure ML token (aml_token, Kubernetes endpoints,
    # which take no Entra token); config checks refuse auth_mode key
    f"{W}/onlineEndpoints/score/action",
    f"{W}/onlineendpoints/token/action",
    f"{W}/codes/write",
    f"{W}/codes/versions/write",
    f"{W}/environments/write",
    f"{W}/environments/versions/write",
    # the endpoint's model monitor, moved to the new deployment at each release
    # (monitoring.collection; /azure/role-based-access-control/permissions/ai-machine-learning).
    # Azure RBAC has one operation for monitor and job schedules: the identity could also
    # write a job schedule, whose jobs Azure ML submits on the schedule's behalf
    f"{W}/schedules/write",
)

#: what the data scientist's role also names in notActions: its allow-list grants none of
#: these, and listing them makes the JSON say so to its reviewers (and keeps saying so if
#: someone widens the actions later)
NEVER_FOR_DATA_SCIENCE = (
    f"{W}/write",
    f"{W}/delete",
    f"{W}/computes/write",
    f"{W}/computes/delete",
    f"{W}/computes/*/write",
    f"{W}/computes/*/delete",
    f"{W}/computes/listKeys/action",
    f"{W}/onlineEndpoints/write",
    f"{W}/onlineEndpoints/deployments/write",
    f"{W}/batchEndpoints/write",
    f"{W}/batchEndpoints/deployments/write",
    f"{W}/serverlessEndpoints/write",
    f"{W}/outboundRules/write",
    f"{W}/privateEndpointConnections/write",
    f"{W}/privateEndpointConnectionsApproval/action",
    f"{W}/provisionManagedNetwork/action",
    f"{W}/listKeys/action",
    f"{W}/listStorageAccountKeys/action",
    f"{W}/connections/listsecrets/action",
    f"{W}/datastores/listsecrets/action",
    f"{W}/onlineendpoints/listkeys/action",
    f"{W}/onlineendpoints/token/action",
    f"{W}/batchEndpoints/listKeys/action",
    f"{W}/serverlessEndpoints/listKeys/action",
    f"{W}/endpoints/listkeys/action",
    *SECRET_READS,
)

REGISTRY_READ = (f"{R}/read", f"{R}/assets/read")
#: promotion writes and stages assets; it never deletes one (lineage stays)
REGISTRY_PUBLISH = (*REGISTRY_READ, f"{R}/assets/write", f"{R}/assets/stage/write")

#: where a custom role may be assigned: the environments' resource groups, or the shared one
Assignable = str  # "environments" | "shared"


@dataclass(frozen=True)
class RoleSpec:
    key: str  # file name in infra/roles and the seed of the role's GUID
    title: str
    summary: str
    permission: Permission
    assignable: Assignable


SPECS = (
    RoleSpec(
        "data-scientist",
        "Data Scientist",
        "submit jobs to existing compute; write experiments, data assets, environments,"
        " components and models; read the rest. No compute, endpoint, network or secret"
        " operation",
        Permission(actions=(*READ_WORKSPACE, *DATA_SCIENCE), not_actions=NEVER_FOR_DATA_SCIENCE),
        "environments",
    ),
    RoleSpec(
        "reader",
        "Reader",
        "read everything except the reads that return secrets",
        Permission(actions=READ_ALL, not_actions=SECRET_READS),
        "environments",
    ),
    RoleSpec(
        "operator",
        "Operator",
        "endpoint traffic, deployment scale and rollback, start, stop and scale existing"
        " compute, cancel jobs, read. No network, storage-account, Key Vault or RBAC write",
        Permission(actions=(*READ_ALL, *OPERATIONS), not_actions=SECRET_READS),
        "environments",
    ),
    RoleSpec(
        "deployer",
        "Deployer",
        "create and update online endpoints and deployments in one environment, score them"
        " with an Entra token, read. No cluster, network, key or secret operation",
        Permission(actions=(*READ_WORKSPACE, *DEPLOYMENT), not_actions=SECRET_READS),
        "environments",
    ),
    RoleSpec(
        "registry-reader",
        "Registry Reader",
        "read the registry and its assets (no built-in role is read-only on a registry)",
        Permission(actions=REGISTRY_READ),
        "shared",
    ),
    RoleSpec(
        "registry-publisher",
        "Registry Publisher",
        "read the registry, write and stage assets; never delete one",
        Permission(actions=REGISTRY_PUBLISH),
        "shared",
    ),
)


def custom_role(platform: str, project: str, spec: RoleSpec) -> Role:
    return Role(
        name=f"{platform} {spec.title}",
        id=derived_guid(platform, "roleDefinitions", spec.key),
        description=f"{spec.title} of the {project} platform: {spec.summary}. {MARKER}.",
        permission=spec.permission,
        custom=True,
    )
