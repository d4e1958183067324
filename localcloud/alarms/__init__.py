"""CloudWatch metric alarms evaluated locally: moto stores them, this moves their state."""

from localcloud.alarms.actions import AlarmActions
from localcloud.alarms.evaluator import AlarmEvaluator

__all__ = ["AlarmActions", "AlarmEvaluator"]
