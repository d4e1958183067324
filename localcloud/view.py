"""Show a pipeline run as it happens, and summarise it afterwards.

A run is shown from a `RunReport` as JSON (the saved report), or from CodePipeline's answers
about an execution (`run_from_api`), which this module turns into the same shape.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

MARKS = {"Succeeded": "ok", "Failed": "FAILED", "InProgress": ".."}


def _elapsed(record: dict[str, Any]) -> float:
    if record["status"] == "InProgress" and "started" in record:
        return time.time() - record["started"]
    return float(record.get("seconds", 0.0))


def run_from_api(
    execution: Mapping[str, Any], state: Mapping[str, Any], details: list[Mapping[str, Any]]
) -> dict[str, Any]:
    """A run in the report's shape from GetPipelineExecution, GetPipelineState and the
    execution's latest ListActionExecutions details: the stages it entered, in order."""
    execution_id = execution["pipelineExecutionId"]
    stages = []
    for stage in state["stageStates"]:
        latest = stage.get("latestExecution", {})
        if latest.get("pipelineExecutionId") != execution_id:
            continue
        rows = sorted(
            (d for d in details if d["stageName"] == stage["stageName"]),
            key=lambda d: d["startTime"],
        )
        actions = [_action_row(detail) for detail in rows]
        stages.append(
            {
                "name": stage["stageName"],
                "status": latest["status"],
                "seconds": sum(a["seconds"] for a in actions),
                "actions": actions,
            }
        )
    return {
        "execution_id": execution_id,
        "pipeline": execution["pipelineName"],
        "status": execution["status"],
        "message": execution.get("statusSummary", ""),
        "seconds": sum(stage["seconds"] for stage in stages),
        "stages": stages,
    }


def _action_row(detail: Mapping[str, Any]) -> dict[str, Any]:
    result = detail.get("output", {}).get("executionResult", {})
    message = result.get("externalExecutionSummary") or result.get("errorDetails", {}).get(
        "message", ""
    )
    started = detail["startTime"].timestamp()
    return {
        "action": detail["actionName"],
        "status": detail["status"],
        "message": message,
        "started": started,
        "seconds": round(detail["lastUpdateTime"].timestamp() - started, 3),
    }


def render_stages(report: dict[str, Any]) -> list[str]:
    """One line per stage and action: status and elapsed seconds."""
    lines = []
    for stage in report.get("stages", []):
        lines.append(f"{stage['name']:<12} {MARKS.get(stage['status'], stage['status']):<7}")
        for action in stage.get("actions", []):
            seconds = _elapsed(action)
            note = f"  {action['message']}" if action.get("message") else ""
            lines.append(
                f"  {action['action']:<18} {MARKS.get(action['status'], action['status']):<7}"
                f"{seconds:6.1f}s{note}"[:110]
            )
    return lines


class LiveView:
    """Redraws the stage table in place on a terminal; prints each change as a line elsewhere."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self._drawn = 0
        self._seen: set[tuple[str, str, str]] = set()
        self._latest: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def __call__(self, report: dict[str, Any]) -> None:
        """Take a new state of the run (a RunReport as a dictionary)."""
        with self._lock:
            self._latest = report
            if self.interactive:
                self._redraw()
            else:
                self._print_changes(report)

    def tick(self) -> None:
        """Refresh elapsed times on a terminal."""
        with self._lock:
            if self.interactive and self._latest is not None:
                self._redraw()

    def _redraw(self) -> None:
        assert self._latest is not None
        lines = render_stages(self._latest)
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def _print_changes(self, report: dict[str, Any]) -> None:
        for stage in report.get("stages", []):
            for action in stage.get("actions", []):
                key = (stage["name"], action["action"], action["status"])
                if key in self._seen:
                    continue
                self._seen.add(key)
                if action["status"] == "InProgress":
                    line = f"{stage['name']}/{action['action']} started"
                else:
                    line = (
                        f"{stage['name']}/{action['action']} {action['status'].lower()} "
                        f"in {action['seconds']:.1f}s"
                    )
                    if action.get("message"):
                        line += f": {action['message']}"
                self.stream.write(line[:200] + "\n")
        self.stream.flush()


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The end-of-run summary: outcome, stage timings and the evaluation."""
    lines = [
        f"Pipeline {report['pipeline']} {report['status'].lower()} in {report['seconds']:.1f}s"
        + (f": {report['message']}" if report.get("message") else ""),
        "",
        f"{'stage':<12} {'status':<10} {'seconds':>8}",
    ]
    lines += [
        f"{s['name']:<12} {s['status']:<10} {s['seconds']:>8.1f}" for s in report.get("stages", [])
    ]
    evaluation = report.get("artifacts", {}).get("Evaluation")
    if evaluation:
        metrics = evaluation.get("metrics", {})
        lines += [
            "",
            "Evaluation on the held-out test split (dev endpoint): "
            + ", ".join(f"{k.upper()} {v:.3f}" for k, v in metrics.items()),
            f"Quality gate: {'passed' if evaluation.get('passed') else 'failed'}"
            + (f" ({evaluation['reason']})" if evaluation.get("reason") else ""),
        ]
    return lines
