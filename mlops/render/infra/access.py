"""A way in for people: Azure Bastion with a jump host (peering with a hub is in network.py).

Microsoft's options for reaching a private workspace: a VPN gateway, ExpressRoute, or Azure
Bastion with a jump box in the network (/azure/machine-learning/how-to-secure-workspace-vnet,
"Securely connect to your workspace").
"""

from __future__ import annotations

from mlops.config.root import Config
from mlops.render.arm import Resource, Template
from mlops.render.infra._common import API
from mlops.render.infra.egress import public_ip, short


def bastion(
    template: Template, config: Config, vnet: Resource, subnets: dict[str, Resource]
) -> None:
    """Bastion in AzureBastionSubnet (/26 or larger) with a Standard static public IP
    (/azure/bastion/configuration-settings); Standard SKU for native-client SSH (tunneling)."""
    settings = config.network.access.bastion
    if settings is None:
        return
    name = short(vnet.name)
    pip = template.add(public_ip(f"pip-{name}-bastion"))
    properties: dict = {
        "ipConfigurations": [
            {
                "name": "ipconfig",
                "properties": {
                    "subnet": {"id": subnets["bastion"].id},
                    "publicIPAddress": {"id": pip.id},
                },
            }
        ]
    }
    if settings.sku == "Standard":
        properties["enableTunneling"] = True
    template.add(
        Resource(
            "Microsoft.Network/bastionHosts",
            API["network"],
            f"bas-{name}",
            properties,
            sku={"name": settings.sku},
            depends_on=(vnet, pip),
        )
    )
    if settings.jump_host is not None:
        _jump_host(template, config, name, vnet, subnets["jump_hosts"])


def _jump_host(
    template: Template, config: Config, name: str, vnet: Resource, subnet: Resource
) -> None:
    """A Linux VM without public IP: SSH keys only, encrypted at host, trusted launch."""
    host = config.network.access.bastion.jump_host  # type: ignore[union-attr]
    nic = template.add(
        Resource(
            "Microsoft.Network/networkInterfaces",
            API["network"],
            f"nic-{name}-jump",
            {
                "ipConfigurations": [
                    {
                        "name": "ipconfig",
                        "properties": {
                            "subnet": {"id": subnet.id},
                            "privateIPAllocationMethod": "Dynamic",
                        },
                    }
                ]
            },
            depends_on=(vnet,),
        )
    )
    template.add(
        Resource(
            "Microsoft.Compute/virtualMachines",
            API["compute"],
            f"vm-{name}-jump",
            {
                "hardwareProfile": {"vmSize": host.vm_size},
                "securityProfile": {
                    "encryptionAtHost": True,
                    "securityType": "TrustedLaunch",
                    "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
                },
                "storageProfile": {
                    "imageReference": {
                        "publisher": "Canonical",
                        "offer": "ubuntu-24_04-lts",
                        "sku": "server",
                        "version": "latest",
                    },
                    "osDisk": {
                        "createOption": "FromImage",
                        "deleteOption": "Delete",
                        "managedDisk": {"storageAccountType": "StandardSSD_LRS"},
                    },
                },
                "osProfile": {
                    "computerName": "jump",
                    "adminUsername": host.admin_username,
                    "allowExtensionOperations": False,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {
                            "publicKeys": [
                                {
                                    "path": f"/home/{host.admin_username}/.ssh/authorized_keys",
                                    "keyData": host.ssh_public_key,
                                }
                            ]
                        },
                        "patchSettings": {
                            "patchMode": "AutomaticByPlatform",
                            "assessmentMode": "AutomaticByPlatform",
                        },
                    },
                },
                "networkProfile": {
                    "networkInterfaces": [{"id": nic.id, "properties": {"deleteOption": "Delete"}}]
                },
                "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            },
            identity={"type": "SystemAssigned"},
            depends_on=(nic,),
        )
    )
