"""The names `monitor` reads and writes: Model Monitor's environment variables, files, wording.

They are Model Monitor's own (the BYOC contract pages and the analyzer's analytics_input.py), so
they live here, next to the program that honours them; the container-wide ones (the base
directory) stay in tabular_container.constants.
"""

from __future__ import annotations

# Environment variables of the analyzer (model-monitor-byoc-contract-inputs, SDK constants).
DATASET_FORMAT_ENV = "dataset_format"
DATASET_SOURCE_ENV = "dataset_source"
OUTPUT_PATH_ENV = "output_path"
START_TIME_ENV = "start_time"
END_TIME_ENV = "end_time"
METRIC_TIME_ENV = "metric_time"
PUBLISH_METRICS_ENV = "publish_cloudwatch_metrics"
ENDPOINT_NAME_ENV = "sagemaker_endpoint_name"
SCHEDULE_NAME_ENV = "sagemaker_monitoring_schedule_name"
BASELINE_STATISTICS_ENV = "baseline_statistics"
BASELINE_CONSTRAINTS_ENV = "baseline_constraints"
ANALYSIS_TYPE_ENV = "analysis_type"
PROBLEM_TYPE_ENV = "problem_type"
INFERENCE_ATTRIBUTE_ENV = "inference_attribute"
GROUND_TRUTH_ATTRIBUTE_ENV = "ground_truth_attribute"
EXCLUDE_FEATURES_ENV = "exclude_features_attribute"
# The groundtruth-merger's one extra variable.
GROUND_TRUTH_SOURCE_ENV = "ground_truth_source"

ENABLED, DISABLED = "Enabled", "Disabled"
MODEL_QUALITY_ANALYSIS = "MODEL_QUALITY"
REGRESSION = "Regression"
PROBLEM_TYPES = ("Regression", "BinaryClassification", "MulticlassClassification")

# dataset_format keys.
CSV_FORMAT, JSON_FORMAT = "csv", "json"
CAPTURE_FORMAT, MERGE_FORMAT = "sagemakerCaptureJson", "sagemakerMergeJson"

# Files in output_path (model-monitor-byoc-contract-outputs; the SDK's violations file name).
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
# Ours: what the job read, skipped and merged (not a Model Monitor file, and not *.jsonl, so a
# later job reading output_path as records never takes it for one).
REPORT_FILE = "monitoring_report.json"
RECORD_SUFFIX = ".jsonl"  # capture, ground-truth and merged files

# The job kinds and their CloudWatch namespaces (real-time endpoints; the form the SageMaker
# project templates alarm on, see docs/monitor.md).
DATA_QUALITY, MODEL_QUALITY = "DataQuality", "ModelQuality"
DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
NAMESPACES = {DATA_QUALITY: DATA_METRICS_NAMESPACE, MODEL_QUALITY: MODEL_METRICS_NAMESPACE}
METRIC_FILES = {DATA_QUALITY: "data-metrics.json", MODEL_QUALITY: "model-metrics.json"}
# Ours, beside the analyzer's per-feature metrics: how many features failed baseline_drift_check,
# the one data-quality metric an alarm needs to hear of drift in any feature.
DRIFT_VIOLATIONS_METRIC = "baseline_drift_check_violations"

# The exit message (/opt/ml/output/message) and its wording.
COMPLETED = "Completed: Job completed successfully with no violations."
COMPLETED_WITH_VIOLATIONS = (
    "CompletedWithViolations: Job completed successfully with {} violations."
)
NO_DATA = "Job inputs had no data"

# Model quality: a metric's standard deviation from five 80% subsamples, "NaN" under 200 records.
SUBSAMPLES, SUBSAMPLE_SHARE, MIN_RECORDS_FOR_DEVIATION = 5, 0.8, 200
SUBSAMPLE_SEED = 0
