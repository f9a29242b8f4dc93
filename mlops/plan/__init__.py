"""Plans: the typed changes `mlops plan` shows and `mlops provision` applies (pure)."""

from mlops.plan.changes import Plan, PropertyChange, ResourceChange, StackPlan

__all__ = ["Plan", "PropertyChange", "ResourceChange", "StackPlan"]
