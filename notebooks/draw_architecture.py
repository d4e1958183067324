#!/usr/bin/env python3
"""Draw the walkthrough's architecture.png from the pipeline template's real stage list.

Usage (from the repository root): python -m notebooks.draw_architecture [--out PATH]

The stages and actions come from templates/02-pipeline.yml, so the picture cannot drift from
the pipeline; they are also written into the PNG's metadata ("Stages", JSON) for the test that
checks the committed picture against the template.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from localcloud.cfn import load_template
from localcloud.codepipeline.definition import template_stages as template_stages_of
from localcloud.stacks import PIPELINE_TEMPLATE, REPO_ROOT
from notebooks.walkthrough.progress import STAGE_NOTES, StageInfo, runner_of  # its own notebook

DEFAULT_OUT = REPO_ROOT / "notebooks" / "architecture.png"
STAGE_COLOUR, CONTEXT_COLOUR, SERVING_COLOUR = "#dbe9f6", "#f3f3f3", "#e3f1df"
BOX_WIDTH, GAP = 1.7, 0.35


def template_stages(template_path: Path = PIPELINE_TEMPLATE) -> list[StageInfo]:
    """The stages and actions of the template's pipeline, in order (the single source of truth)."""
    return [
        StageInfo(
            stage.name,
            tuple((a.name, runner_of(a.provider, a.configuration)) for a in stage.actions),
        )
        for stage in template_stages_of(load_template(template_path))
    ]


def stages_metadata(stages: list[StageInfo]) -> str:
    """The stage list as the PNG stores it: JSON of stage names and their action names."""
    return json.dumps([{"stage": s.name, "actions": [a for a, _ in s.actions]} for s in stages])


def _box(axes: Axes, x: float, y: float, w: float, h: float, colour: str) -> None:
    axes.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=colour, ec="#555"
        )
    )


def _arrow(axes: Axes, start: tuple[float, float], end: tuple[float, float], **style: str) -> None:
    axes.annotate(
        "", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "#444", **style}
    )


def draw(stages: list[StageInfo], out: Path) -> None:
    """Stages left to right with their actions and purpose; sources above, serving below."""
    width = len(stages) * (BOX_WIDTH + GAP)
    figure, axes = plt.subplots(figsize=(width * 1.05, 6.6), dpi=100)
    axes.set_xlim(-0.2, width)
    axes.set_ylim(-0.3, 6.4)
    axes.axis("off")
    axes.text(
        width / 2,
        6.15,
        "CodePipeline <project>-pipeline (stages from templates/02-pipeline.yml)",
        ha="center",
        fontsize=13,
        weight="bold",
    )
    centres = {}
    for index, stage in enumerate(stages):
        x = index * (BOX_WIDTH + GAP)
        centres[stage.name] = x + BOX_WIDTH / 2
        _box(axes, x, 2.9, BOX_WIDTH, 1.7, STAGE_COLOUR)
        axes.text(x + BOX_WIDTH / 2, 4.32, stage.name, ha="center", fontsize=11, weight="bold")
        for row, (action, runner) in enumerate(stage.actions):
            axes.text(x + 0.08, 3.95 - row * 0.42, action, fontsize=8.5, weight="bold")
            axes.text(x + 0.08, 3.77 - row * 0.42, runner, fontsize=8, color="#333")
        note = textwrap.fill(STAGE_NOTES.get(stage.name, ""), 26)
        axes.text(x + 0.02, 2.75, note, fontsize=7.5, va="top", color="#333")
        if index:
            _arrow(axes, (x - GAP, 3.75), (x, 3.75))
    first = stages[0].name
    for offset, label in [
        (-0.55, "model code\nS3 zip or Git"),
        (1.45, "S3 data bucket\npipeline/data.zip"),
    ]:
        x = centres[first] + offset - 0.55
        _box(axes, x, 5.05, 1.5, 0.7, CONTEXT_COLOUR)
        axes.text(x + 0.75, 5.4, label, ha="center", va="center", fontsize=8.5)
        _arrow(axes, (x + 0.75, 5.05), (centres[first], 4.6))
    endpoints = [(n, e) for n, e in (("DeployDev", "dev"), ("DeployProd", "prod")) if n in centres]
    for name, env in endpoints:
        x = centres[name] - 0.85
        _box(axes, x, 0.75, 1.7, 0.6, SERVING_COLOUR)
        axes.text(
            x + 0.85, 1.05, f"endpoint\n<project>-{env}", ha="center", va="center", fontsize=8.5
        )
        _arrow(axes, (centres[name], 1.72), (centres[name], 1.35), linestyle="dashed")
    if endpoints:
        _box(axes, 0.0, 0.0, 2 * BOX_WIDTH + GAP, 0.55, SERVING_COLOUR)
        axes.text(
            BOX_WIDTH + GAP / 2,
            0.27,
            "API Gateway POST /dev|prod/predict (x-api-key)\n→ λ PredictProxy → InvokeEndpoint",
            ha="center",
            va="center",
            fontsize=8.5,
        )
        for name, _ in endpoints:
            _arrow(axes, (2 * BOX_WIDTH + GAP, 0.27), (centres[name] - 0.85, 0.95))
    figure.savefig(
        out,
        metadata={
            "Title": "SageMaker BYOC pipeline architecture",
            "Software": None,
            "Stages": stages_metadata(stages),
        },
        bbox_inches="tight",
    )
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Draw the picture and say where it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write")
    args = parser.parse_args(argv)
    stages = template_stages()
    draw(stages, args.out)
    print(f"{args.out}: {len(stages)} stages ({', '.join(s.name for s in stages)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
