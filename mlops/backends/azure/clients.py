"""One factory for every Azure SDK client, so tests can hand all of them one transport.

Credentials come from `azure-identity`. Inside an Azure Pipelines step signed in through a
workload-identity service connection, `AzurePipelinesCredential`: it asks Azure DevOps for a
fresh federated token at each sign-in, so a job outlives the 10 minutes one token lasts.
Elsewhere DefaultAzureCredential: an Azure CLI login on a workstation, a managed identity on
an agent. No secret passes through this tool, and no token is ever printed or written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops.errors import BackendError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential
    from azure.core.pipeline.transport import HttpTransport
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient
    from azure.mgmt.resource.deploymentstacks import DeploymentStacksClient
    from azure.mgmt.resource.resources import ResourceManagementClient

ARM_SCOPE = "https://management.azure.com/.default"


@dataclass
class AzureClients:
    """Builds SDK clients with one credential and, in tests, one injected transport."""

    credential: TokenCredential
    transport: HttpTransport | None = None
    options: dict[str, Any] = field(default_factory=dict)  # e.g. retry settings

    def _kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.options)
        if self.transport is not None:
            kwargs["transport"] = self.transport
        return kwargs

    def resources(self, subscription_id: str) -> ResourceManagementClient:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self.credential, subscription_id, **self._kwargs())

    def deployments(self, subscription_id: str) -> DeploymentsMgmtClient:
        from azure.mgmt.resource.deployments import DeploymentsMgmtClient

        return DeploymentsMgmtClient(self.credential, subscription_id, **self._kwargs())

    def stacks(self, subscription_id: str) -> DeploymentStacksClient:
        """Deployment stacks (api-version 2025-07-01): each infrastructure stack's apply."""
        from azure.mgmt.resource.deploymentstacks import DeploymentStacksClient

        return DeploymentStacksClient(self.credential, subscription_id, **self._kwargs())

    def authorization(self, subscription_id: str) -> AuthorizationManagementClient:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(self.credential, subscription_id, **self._kwargs())

    def devops(self, organization_url: str) -> Any:
        """An Azure DevOps connection (a PAT from AZURE_DEVOPS_EXT_PAT, else this credential)."""
        from mlops.backends.azure.devops import connect

        return connect(organization_url, self.credential)

    def ml(self, subscription_id: str, resource_group: str, workspace: str) -> MLClient:
        """An Azure ML workspace's client (every management-plane call shares the transport)."""
        from mlops.backends.azure.aml import quiet

        with quiet():
            from azure.ai.ml import MLClient

            return MLClient(
                self.credential, subscription_id, resource_group, workspace, **self._kwargs()
            )

    def ml_registry(self, subscription_id: str, resource_group: str, registry: str) -> MLClient:
        """The shared Azure ML registry's client (promoted models)."""
        from mlops.backends.azure.aml import quiet

        with quiet():
            from azure.ai.ml import MLClient

            return MLClient(
                self.credential,
                subscription_id,
                resource_group,
                registry_name=registry,
                **self._kwargs(),
            )

    def ml_system_registry(self, registry: str) -> MLClient:
        """A registry Microsoft runs (`azureml`, the curated environments): found by name."""
        from mlops.backends.azure.aml import quiet

        with quiet():
            from azure.ai.ml import MLClient

            return MLClient(self.credential, registry_name=registry, **self._kwargs())


def default_clients(
    tenant_id: str | None = None, environ: Mapping[str, str] | None = None
) -> AzureClients:
    """Clients signed in as the pipeline step's service connection when running in one (see
    `pipeline_credential`), else through DefaultAzureCredential."""
    from mlops.backends.azure.devops import pipeline_credential

    kwargs: dict[str, Any] = {}
    if tenant_id:
        kwargs["additionally_allowed_tenants"] = [tenant_id]
    credential = pipeline_credential(environ, **kwargs)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(**kwargs)
    return AzureClients(credential)


def signed_in(clients: AzureClients) -> str | None:
    """None when a token for ARM can be had; otherwise why not (for the offline notice)."""
    from azure.core.exceptions import ClientAuthenticationError

    try:
        clients.credential.get_token(ARM_SCOPE)
    except ClientAuthenticationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"no Azure credentials ({first})"
    return None


def require_signed_in(clients: AzureClients) -> None:
    reason = signed_in(clients)
    if reason:
        raise BackendError(
            reason,
            hint="sign in with `az login` (or run where a managed identity or workload"
            " identity federation is configured)",
        )
