"""The target figures, the README performance section and the printed summary, from results."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

from bench import capture, rollout, training, transform

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
# key: (comparison, limit, unit, what it measures)
TARGETS = {
    "serve_rps_ratio_vs_classic": (
        ">=",
        2.0,
        "x",
        "single-record requests/s, ours ÷ classic, 8 connections",
    ),
    "serve_p50_over_inprocess": (
        "<=",
        1.5,
        "x",
        "single-record p50 through `/invocations` ÷ in-process `Pipeline.predict`",
    ),
    "serve_batch_ratio_vs_classic": (
        ">=",
        2.0,
        "x",
        "10,000-row CSV request rows/s, ours ÷ classic",
    ),
    "gateway_p50_overhead_ms": (
        "<=",
        5.0,
        " ms",
        "`/prod/predict` p50 - direct InvokeEndpoint p50",
    ),
    "capture_p50_ratio": (
        "<=",
        capture.TARGET_RATIO,
        "x",
        "single-record InvokeEndpoint p50, data capture on (100%, input and output) ÷ off",
    ),
    "pipeline_seconds": ("<=", 60.0, " s", "local pipeline, source to prod endpoint InService"),
    "train_200mb_peak_rss_gb": (
        "<=",
        training.LIMITS["train_200mb_peak_rss_gb"],
        " GB",
        "peak RSS of `train` on a 200 MB CSV (4.57 million rows)",
    ),
    "train_200mb_seconds": (
        "<=",
        training.LIMITS["train_200mb_seconds"],
        " s",
        "`train` on a 200 MB CSV, wall time",
    ),
    "transform_rows_per_second": (
        ">=",
        transform.TARGET_ROWS_PER_SECOND,
        " rows/s",
        "a 1,000,000-row CSV through a local transform job, S3 to S3",
    ),
}
COMPARE = {">=": operator.ge, "<=": operator.le}


def targets_of(results: dict[str, Any]) -> dict[str, Any]:
    """The target figures, whether each is met, and what bounds the serving latency."""
    serving = results["serving"]
    ours, classic = serving["ours"], serving["classic"]
    floor = serving["in_process"]["1"]
    served_us = ours["1_record_c1"]["p50_ms"] * 1000
    values = {
        "serve_rps_ratio_vs_classic": round(
            ours["1_record_c8"]["rps"] / classic["1_record_c8"]["rps"], 2
        ),
        "serve_p50_over_inprocess": round(served_us / floor["pipeline_predict_us"], 2),
        "serve_batch_ratio_vs_classic": round(
            serving["batch"]["ours"]["rows_per_second"]
            / serving["batch"]["classic"]["rows_per_second"],
            2,
        ),
        "gateway_p50_overhead_ms": results["gateway"]["overhead_p50_ms"],
        **capture.target_values(results["capture"]),
        "pipeline_seconds": results["pipeline"]["seconds"],
        **training.target_values(results["training"]),
        **transform.target_values(results["transform"]),
    }
    targets = {
        key: {
            "value": value,
            "target": f"{TARGETS[key][0]} {TARGETS[key][1]:g}",
            "met": COMPARE[TARGETS[key][0]](value, TARGETS[key][1]),
        }
        for key, value in values.items()
    }
    shares = serving["profile_1_record_c1"].get("share_outside_the_event_loop", {})
    profile = ", ".join(f"{layer} {share:.0%}" for layer, share in shares.items())
    cpu = ours["cpu_per_request_c1"]
    placed = ours["placement_1_record_c1"]
    rounds = ", ".join(f"{r['p50_ms'] * 1000:.0f}" for r in ours["1_record_c1"]["rounds"])
    bounds = (
        f"single-record p50 through /invocations is {served_us:.0f} µs, of which our server's "
        f"own work, decode + predict + encode, takes {floor['server_path_us']:.0f} µs in a "
        f"loop in-process (served ÷ that: {served_us / floor['server_path_us']:.2f}x). GET "
        f"/ping, an HTTP exchange with no work, has p50 {ours['ping_c1']['p50_ms'] * 1000:.0f} "
        f"µs (uvicorn, loopback TCP, wrk). Where the scheduler puts client and worker matters: "
        f"pinned to one vCPU the p50 is {placed.get('same_cpu_p50_ms', 0) * 1000:.0f} µs, on two "
        f"{placed.get('other_cpu_p50_ms', 0) * 1000:.0f} µs (each exchange then wakes the other "
        f"vCPU), and unpinned rounds land either way ({rounds} µs). Per request our "
        f"workers spend {cpu['/invocations']['user_us']:.0f} µs user + "
        f"{cpu['/invocations']['system_us']:.0f} µs system CPU (GET /ping: "
        f"{cpu['/ping']['user_us']:.0f} + {cpu['/ping']['system_us']:.0f}). py-spy of the "
        f"workers at 1 connection, outside the event loop's own C code and waits: {profile}."
    )
    return {
        **values,
        "serve_p50_over_server_path": round(served_us / floor["server_path_us"], 2),
        "targets": targets,
        "serving_latency_bounds": bounds,
    }


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def _target_rows(results: dict[str, Any]) -> list[str]:
    rows = ["| figure | measured | target | |", "|---|---|---|---|"]
    for key, (op, limit, unit, what) in TARGETS.items():
        target = results["targets"][key]
        sign = "≥" if op == ">=" else "≤"
        rows.append(
            f"| {what} (`{key}`) | {target['value']:g}{unit} | {sign} {limit:g}{unit} | "
            f"{'met' if target['met'] else '**missed**'} |"
        )
    return rows


def _serving_rows(serving: dict[str, Any]) -> list[str]:
    rows = [
        "| records | connections | ours req/s | ours p50 / p99 ms | classic req/s "
        "| classic p50 / p99 ms | ours ÷ classic req/s | errors ours / classic |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in serving["ours"]:
        if not name.endswith(tuple(f"_c{c}" for c in (1, 8, 32))) or name not in serving["classic"]:
            continue
        records, _, connections = name.partition("_record_c")
        a, b = serving["ours"][name], serving["classic"][name]
        rows.append(
            f"| {records} | {connections} | {_fmt(a['rps'], 0)} | {a['p50_ms']:.2f} / "
            f"{a['p99_ms']:.2f} | {_fmt(b['rps'], 0)} | {b['p50_ms']:.2f} / {b['p99_ms']:.2f} | "
            f"{a['rps'] / b['rps']:.1f}x | {a['errors']} / {b['errors']} |"
        )
    return rows


def markdown(results: dict[str, Any]) -> str:
    """The README's performance section body."""
    serving, machine = results["serving"], results["machine"]
    floor1, floor100 = serving["in_process"]["1"], serving["in_process"]["100"]
    floor_batch = serving["in_process"]["batch"]
    batch, large = serving["batch"], serving["large_request_memory"]
    pipeline = results["pipeline"]
    hardening = results["hardening"]
    load, warmup, worker, dead = (
        hardening["load_gateway_c32"],
        hardening["load_gateway_c32_warmup"],
        hardening["worker_kill"],
        hardening["instance_kill"],
    )
    settings = results["settings"]
    lines = [
        f"_Last run {results['generated']} on {machine['cpus']} CPUs (load average "
        f"{machine['load_average_start'][0]:g} at the start, {machine['load_average_end'][0]:g} "
        f"at the end), {results['total_seconds'] / 60:.1f} min. The load generator (wrk "
        f"{machine['wrk']}) and the servers share those two cores, so absolute figures are "
        f"lower than on a server with cores of its own; ours and classic ran back to back, "
        f"alternating, median of {settings['rounds']} rounds of {settings['seconds_per_wrk_run']:g}"
        f" s. Raw figures: `bench/results/latest.json`._",
        "",
        *_target_rows(results),
        "",
        f"What bounds the serving latency: {results['serving_latency_bounds']}",
        "",
        f"**Serving**: our `serve` (uvicorn, raw ASGI) against the classic SageMaker predictor "
        f"(nginx {machine['nginx']} → gunicorn gevent workers → Flask, `pandas.read_csv` per "
        f"request), the same `model.joblib`, {settings['workers_each']} workers each, headerless "
        f"CSV bodies (predictions agree within {serving['max_prediction_difference']:.1e}).",
        "",
        *_serving_rows(serving),
        "",
        f"In-process floor (p50): 1 record `Pipeline.predict` {floor1['pipeline_predict_us']:.0f}"
        f" µs (default scikit-learn config {floor1['pipeline_predict_default_config_us']:.0f} µs,"
        f" from a DataFrame as the classic app does {floor1['pipeline_predict_dataframe_us']:.0f}"
        f" µs, our server's decode + predict + encode {floor1['server_path_us']:.0f} µs); 100 "
        f"records {floor100['pipeline_predict_us']:.0f} µs (server path "
        f"{floor100['server_path_us']:.0f} µs). Ours, 1 record as JSON, 1 connection: p50 "
        f"{serving['ours']['1_record_json_c1']['p50_ms']:.3f} ms; GET /ping p50 "
        f"{serving['ours']['ping_c1']['p50_ms']:.3f} ms.",
        "",
        f"**Batch**: {batch['rows']:,} rows ({batch['csv_bytes'] / 1e6:.2f} MB CSV) in one "
        f"request: ours {batch['ours']['seconds']:.3f} s ({batch['ours']['rows_per_second']:,} "
        f"rows/s), classic {batch['classic']['seconds']:.3f} s "
        f"({batch['classic']['rows_per_second']:,} rows/s). In-process, parsing those rows takes "
        f"our codec {floor_batch['decode_csv_us'] / 1000:.1f} ms (column-wise with pandas' C "
        f"parser; its per-cell path, which words row-and-column errors and reads small bodies, "
        f"{floor_batch['decode_csv_cells_us'] / 1000:.0f} ms) against `pandas.read_csv` "
        f"{floor_batch['pandas_read_csv_us'] / 1000:.1f} ms; predicting them "
        f"{floor_batch['predictor_predict_us'] / 1000:.0f} ms. One {large['csv_bytes'] / 1e6:.0f}"
        f" MB CSV request ({large['rows']:,} rows) to ours in batch mode (`SAGEMAKER_BATCH=true`, "
        f"`SAGEMAKER_MAX_PAYLOAD_IN_MB=100`, one worker): answered in {large['seconds']:g} s, the "
        f"worker's peak RSS {large['peak_rss_growth_mb']:.0f} MB above its "
        f"{large['rss_before_mb']:.0f} MB before, {large['peak_growth_over_payload']:.1f}x the "
        "payload.",
        "",
        f"**Pipeline** (run report): {pipeline['status']} in {pipeline['seconds']:g} s; "
        + ", ".join(f"{stage} {seconds:g} s" for stage, seconds in pipeline["stages"].items())
        + f". `localcloud up` (cloud start + run) {pipeline['cloud_start_and_run_wall_seconds']:g}"
        f" s wall. Gateway: `/prod/predict` p50 {results['gateway']['gateway_p50_ms']:.2f} ms, "
        f"direct InvokeEndpoint p50 {results['gateway']['direct_invoke_p50_ms']:.2f} ms "
        f"({results['gateway']['requests_each']} each, alternating).",
        "",
        "**Training**: `train` as a process per size on the abalone train split resampled "
        "with a 1% jitter, the validation split as its validation channel; peak RSS is the "
        "kernel's count for that process, time wall-clock:",
        "",
        *training.table(results["training"]),
        "",
        *rollout.section(results["rollout"]),
        "",
        *transform.section(results["transform"]),
        "",
        "**Lambdas** (`make package` zips; cold `import app` in a fresh interpreter, median; "
        f"boto3's own import alone is {results['lambdas']['boto3_import_ms']:.0f} ms):",
        "",
        "| function | zip | cold import | cold import, boto3 already imported |",
        "|---|---|---|---|",
        *(
            f"| {name} | {f['zip_bytes'] / 1024:.1f} KB | {f['cold_import_ms']:.0f} ms | "
            f"{f['cold_import_without_boto3_ms']:.0f} ms |"
            for name, f in results["lambdas"]["functions"].items()
        ),
        "",
        f"**Hardening**: {settings['load_seconds']:g} s at 32 connections on `/prod/predict`: "
        f"{load['requests']:,} requests, {_fmt(load['rps'], 0)} req/s, p50 "
        f"{load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, {load['errors']} errors (after "
        f"{warmup['seconds']:g} s of warm-up while further Lambda workers cold-start: p99 "
        f"{warmup['p99_ms']:.0f} ms, {warmup['errors']} errors). One "
        f"`serve` worker killed under load (8 clients): replaced and ready in "
        f"{worker['replaced_seconds']:g} s, {worker['answered_during_gap']:,} requests answered "
        f"meanwhile, {worker['errors']} of {worker['requests']:,} failed "
        f"({worker['errors_after_replacement']} after the replacement). Prod's whole fleet "
        f"({dead.get('instances', 1)} serve processes) killed under load "
        f"({dead['concurrency']} clients): InvokeEndpoint "
        f"{dead['invoke_error_code']} in {dead['invoke_seconds'] * 1000:.0f} ms, new instances "
        f"serving after {dead['replaced_seconds']:g} s, the endpoint "
        f"{' → '.join(dead['statuses_seen'])} throughout; {dead['errors']} of "
        f"{dead['requests']:,} requests failed ({dead['errors_after_replacement']} after the "
        f"replacement). Fuzzing (hypothesis, "
        f"{settings['fuzz_examples_per_target']:,} bodies each): "
        + "; ".join(
            f"{target} {_fuzz_text(hardening[key])}"
            for target, key in (("`/invocations`", "fuzz_invocations"), ("gateway", "fuzz_gateway"))
        )
        + ".",
    ]
    return "\n".join(lines)


def _fuzz_text(outcome: dict[str, Any]) -> str:
    if not outcome["passed"]:
        return f"**failed**: {outcome['failure'].splitlines()[0]}"
    statuses = ", ".join(f"{code}x{n}" for code, n in outcome["statuses"].items())
    return f"no 5xx, trace or hang ({statuses})"


def rewrite_readme(readme: Path, results: dict[str, Any]) -> None:
    """Replace what lies between the bench markers with the new section."""
    text = readme.read_text()
    head, found, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise RuntimeError(f"{readme} lacks the {START} ... {END} markers")
    readme.write_text(f"{head}{START}\n{markdown(results)}\n{END}{tail}")


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The targets, one line each, for the terminal."""
    lines = ["", "target                        measured   aim        "]
    for key, target in results["targets"].items():
        lines.append(
            f"{key:<30}{target['value']:>8g}   {target['target']:<10} "
            f"{'met' if target['met'] else 'MISSED'}"
        )
    lines.append("")
    lines.append(results["serving_latency_bounds"])
    return lines
