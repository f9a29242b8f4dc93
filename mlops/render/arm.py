"""A typed model of ARM deployment templates: resources are values, the JSON is derived.

Building templates from dataclasses rather than text keeps every reference checked by
Python (a resource depends on another `Resource`, not on a string that may drift) and makes
the output deterministic, so `mlops render --check` can compare it byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMETERS_SCHEMA = (
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
)
LOCATION = "[parameters('location')]"


def quote(value: str) -> str:
    """`value` as an ARM expression string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Resource:
    """One resource of a template. `name` is the ARM name (`parent/child` for children)."""

    type: str
    api_version: str
    name: str
    properties: dict[str, Any] | str | None = None
    location: str | None = LOCATION
    sku: dict[str, Any] | None = None
    kind: str | None = None
    identity: dict[str, Any] | None = None
    tags: bool = True
    depends_on: tuple[Resource, ...] = ()
    # checkov suppressions: (check id, written justification), listed in the README
    skips: tuple[tuple[str, str], ...] = ()
    # an extension resource's parent, e.g. "Microsoft.ContainerService/managedClusters/aks-1"
    scope: str | None = None
    # a nested deployment into another resource group (and subscription)
    subscription_id: str | None = None
    resource_group: str | None = None

    @property
    def id(self) -> str:
        """ARM expression for this resource's id in the deployment's resource group."""
        segments = ", ".join(quote(s) for s in self.name.split("/"))
        if self.scope:
            parent_type, _, parent = self.scope.rpartition("/")
            parent_id = f"resourceId({quote(parent_type)}, {quote(parent)})"
            return f"[extensionResourceId({parent_id}, {quote(self.type)}, {segments})]"
        return f"[resourceId({quote(self.type)}, {segments})]"

    @property
    def id_ref(self) -> str:
        """The id expression without brackets, for use inside a larger expression."""
        return self.id[1:-1]

    def to_arm(self, tags: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "apiVersion": self.api_version}
        out["name"] = self.name
        if self.scope:
            out["scope"] = self.scope
        if self.subscription_id:
            out["subscriptionId"] = self.subscription_id
        if self.resource_group:
            out["resourceGroup"] = self.resource_group
        if self.location is not None:
            out["location"] = self.location
        if self.tags and tags:
            out["tags"] = dict(tags)
        for key, value in (("sku", self.sku), ("kind", self.kind), ("identity", self.identity)):
            if value is not None:
                out[key] = value
        if self.properties is not None:
            out["properties"] = self.properties
        if self.depends_on:
            out["dependsOn"] = [d.id for d in self.depends_on]
        if self.skips:
            out["metadata"] = {"checkov": [f"checkov:skip={c}:{why}" for c, why in self.skips]}
        return out


@dataclass(frozen=True)
class Parameter:
    type: str
    description: str
    default: Any = None

    def to_arm(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.default is not None:
            out["defaultValue"] = self.default
        out["metadata"] = {"description": self.description}
        return out


@dataclass
class Template:
    """A resource-group deployment template and the values of its parameters."""

    description: str
    tags: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def variable(self, name: str, value: Any) -> str:
        """Store `value` as a template variable and return the expression that reads it.

        Used for discriminated objects (an object whose `kind` or `computeType` selects its
        other properties): the published ARM schemas close the discriminator's shared part
        with `additionalProperties: false`, so no real value of those types validates inline.
        """
        if name in self.variables and self.variables[name] != value:
            raise ValueError(f"template variable {name!r} set twice")
        self.variables[name] = value
        return f"[variables({quote(name)})]"

    def add(self, resource: Resource) -> Resource:
        self.resources.append(resource)
        return resource

    def to_arm(self) -> dict[str, Any]:
        names = [(r.type.lower(), r.name.lower()) for r in self.resources]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"resources declared twice: {sorted(duplicates)}")
        return {
            "$schema": SCHEMA,
            "contentVersion": "1.0.0.0",
            "metadata": {"description": self.description, "generator": "mlops render"},
            "parameters": {k: p.to_arm() for k, p in self.parameters.items()},
            "variables": self.variables,
            "resources": [r.to_arm(self.tags) for r in self.resources],
            "outputs": self.outputs,
        }

    def parameters_file(self) -> dict[str, Any]:
        return {
            "$schema": PARAMETERS_SCHEMA,
            "contentVersion": "1.0.0.0",
            "parameters": {k: {"value": v} for k, v in self.values.items()},
        }
