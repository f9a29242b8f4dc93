"""endpoints.yml (`cost.off_hours`): endpoints asleep after working hours, awake for them."""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config
from mlops.render.pipelines._common import (
    AZURE,
    SETUP,
    _pool,
    connection,
    variable_group,
)

#: the schedules of endpoints.yml, told apart by Build.CronSchedule.DisplayName
SLEEP_SCHEDULE = "Endpoints asleep after working hours"
WAKE_SCHEDULE = "Endpoints awake for working hours"
_CRON_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def off_hours_connection(config: Config, env: str) -> str:
    """The service connection endpoints.yml signs in with for `env`: the environment's
    deployment identity without the Approval check of its deployment connection, so the
    nightly run is not held for a person (its checks: branch control only)."""
    return connection(config, f"{env}-off-hours")


def _cron(time: str, days: list[str]) -> str:
    hour, minute = time.split(":")
    listed = ",".join(str(n) for n in sorted({_CRON_DAYS[d] for d in days}))
    return f"{int(minute)} {int(hour)} * * {listed}"


def endpoints(config: Config) -> dict[str, Any]:
    """`cost.off_hours`: each listed environment's endpoint asleep at the end of working hours
    (its deployments removed: a managed deployment cannot scale to zero) and awake at their
    start (the model it served deployed again, blue/green and smoke-tested). Schedules are in
    UTC, as Azure Pipelines reads every cron (schedules-cron docs); a manual run asks which."""
    off = config.cost.off_hours
    assert off is not None
    branch = config.devops.default_branch
    wake = f'"$(Build.CronSchedule.DisplayName)" = "{WAKE_SCHEDULE}"'
    action = (
        'action="${{ parameters.action }}"\n'
        'if [ "$action" = "auto" ]; then\n'
        "  # which schedule started the run (Build.CronSchedule.DisplayName)\n"
        f"  if [ {wake} ]; then action=wake; else action=sleep; fi\n"
        "fi\n"
    )
    jobs = []
    for env in off.environments:
        jobs.append(
            {
                "job": env.replace("-", "_"),
                "displayName": f"Endpoint of {env}",
                "pool": _pool(config, env),
                "variables": [{"group": variable_group(config, env)}],
                "steps": [
                    {"template": SETUP},
                    {
                        "template": AZURE,
                        "parameters": {
                            "serviceConnection": off_hours_connection(config, env),
                            "displayName": f"Sleep or wake the endpoint of {env}",
                            "script": action + f'mlops cost "$action" --env {env}\n',
                        },
                    },
                ],
            }
        )

    def schedule(cron: str, name: str) -> dict[str, Any]:
        return {
            "cron": cron,
            "displayName": name,
            "branches": {"include": [branch]},
            "always": True,
        }

    return {
        "trigger": "none",
        "pr": "none",
        "parameters": [
            {
                "name": "action",
                "displayName": "Sleep or wake (auto: by the schedule)",
                "type": "string",
                "default": "auto",
                "values": ["auto", "sleep", "wake"],
            }
        ],
        "schedules": [
            schedule(_cron(off.end, list(off.days)), SLEEP_SCHEDULE),
            schedule(_cron(off.start, list(off.days)), WAKE_SCHEDULE),
        ],
        "jobs": jobs,
    }
