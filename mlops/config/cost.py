"""The `cost:` section of mlops.yaml: budgets per environment and endpoints asleep off hours."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mlops.config._types import Email, Section

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")

#: Azure budgets: thresholds are percentages of the amount, and a budget has at most five
#: notifications (learn.microsoft.com/rest/api/consumption/budgets/create-or-update:
#: "Budget can have up to five notifications"; Notification.threshold "value should be
#: greater than 0 and less than or equal to 1000")
MAX_NOTIFICATIONS = 5


class Budget(Section):
    """A monthly Azure budget on an environment's resource group, with alerts by email."""

    amount: float = Field(
        gt=0,
        allow_inf_nan=False,
        description="Monthly amount, in the billing account's currency.",
    )
    thresholds: list[float] = Field(
        default=[80.0, 100.0],
        min_length=1,
        max_length=MAX_NOTIFICATIONS,
        description="Alert at these percentages of the amount spent (Azure: at most five,"
        " each above 0 and at most 1000).",
    )
    forecast: bool = Field(
        True,
        description="Also alert when the month's forecast crosses the highest threshold.",
    )
    # "Must have at least one contact email or contact group specified at the Subscription
    # or Resource Group scopes" (learn.microsoft.com/rest/api/consumption/budgets/
    # create-or-update#notification): roles alone are refused there
    contact_emails: list[Email] = Field(
        min_length=1,
        description="Who is alerted, e.g. the platform owners' list (Azure requires at least"
        " one address on a resource group's budget).",
    )
    contact_roles: list[Literal["Owner", "Contributor", "Reader"]] = Field(
        default=["Owner"],
        description="Azure roles on the resource group whose holders are alerted.",
    )

    @field_validator("thresholds")
    @classmethod
    def _in_range(cls, values: list[float]) -> list[float]:
        for value in values:
            if not 0 < value <= 1000:
                raise ValueError(f"threshold {value}: Azure accepts above 0 and up to 1000 (%)")
        if len(set(values)) != len(values):
            raise ValueError("each threshold once")
        return sorted(values)

    @model_validator(mode="after")
    def _fits(self) -> Budget:
        if len(self.thresholds) + (1 if self.forecast else 0) > MAX_NOTIFICATIONS:
            raise ValueError(
                f"{len(self.thresholds)} thresholds and a forecast alert are more than the"
                f" {MAX_NOTIFICATIONS} notifications an Azure budget holds"
            )
        return self


class OffHours(Section):
    """When non-production endpoints sleep: outside working hours their deployments are
    deleted (the endpoint, its name and the model stay) and recreated in the morning."""

    environments: list[str] = Field(
        default=[],
        description="Azure environments whose endpoints sleep off hours; never the last"
        " (production) environment.",
    )
    days: list[Weekday] = Field(
        default=["mon", "tue", "wed", "thu", "fri"],
        min_length=1,
        description="Working days: endpoints sleep from `end` until `start` of the next one.",
    )
    start: str = Field("07:00", description="Working hours start, HH:MM in UTC.")
    end: str = Field("19:00", description="Working hours end, HH:MM in UTC.")

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f"'{value}': expected HH:MM (UTC), e.g. 07:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OffHours:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


class Cost(Section):
    """What keeps idle compute and endpoints from costing money."""

    budgets: dict[str, Budget] = Field(
        default_factory=dict,
        description="Monthly budget per Azure environment (its resource group), alerting the"
        " platform owners; applied by `mlops provision`, listed by `mlops plan`.",
    )
    off_hours: OffHours | None = Field(
        None,
        description="Endpoints of non-production environments removed outside working hours"
        " and recreated at the start of them (the rendered .azuredevops/endpoints.yml).",
    )
