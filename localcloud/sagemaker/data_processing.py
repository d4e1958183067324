"""A transform job's DataProcessing: AWS's JSONPath subset, the input and output filters, the join.

Batch transform filters each record before it reaches the container (`InputFilter`), can join
each prediction to its input record (`JoinSource: Input`), and filters what is written
(`OutputFilter`). A CSV record is taken as a JSON array of its fields, so only index paths
apply to it (`$[1:]`, `$[0,-1]`) and the prediction's fields are appended to the row; a JSON
record that is an object gets the prediction under `SageMakerOutput`, any other JSON value is
wrapped as `{"SageMakerInput": …, "SageMakerOutput": …}`. The paths AWS supports are `$`,
`.name`, `*`, `['a','b']`, `[i,j]` (negative indexes too) and `[s:e]`; anything else is
refused when the job is created.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.sagemaker.exceptions import ValidationException

CSV = "text/csv"
JSON_TYPES = ("application/json", "application/jsonlines")
JOINABLE_TYPES = (CSV, *JSON_TYPES)
OUTPUT_KEY = "SageMakerOutput"
INPUT_KEY = "SageMakerInput"
_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w-]*)|\.\*|\[\*\]
    |\[(?P<keys>'[^']*'(?:\s*,\s*'[^']*')*)\]
    |\[(?P<indexes>-?\d+(?:\s*,\s*-?\d+)*)\]
    |\[(?P<start>-?\d*):(?P<end>-?\d*)\]""",
    re.VERBOSE,
)

Step = Callable[[Any], Any]


class RecordError(ValueError):
    """A record the filters or the join cannot handle; the message names why."""


def _name(key: str) -> Step:
    def step(value: Any) -> Any:
        if not isinstance(value, dict) or key not in value:
            raise RecordError(f"the record has no member {key!r}")
        return value[key]

    return step


def _keys(keys: list[str]) -> Step:
    def step(value: Any) -> Any:
        if not isinstance(value, dict):
            raise RecordError(f"the record is not an object, so {keys!r} cannot be selected")
        return {key: value[key] for key in keys if key in value}

    return step


def _indexes(indexes: list[int]) -> Step:
    def step(value: Any) -> Any:
        if not isinstance(value, list):
            raise RecordError("the record is not an array, so indexes cannot be selected")
        try:
            return [value[index] for index in indexes]
        except IndexError:
            raise RecordError(
                f"the record has {len(value)} fields; index out of range in {indexes}"
            ) from None

    return step


def _slice(start: int | None, end: int | None) -> Step:
    def step(value: Any) -> Any:
        if not isinstance(value, list):
            raise RecordError("the record is not an array, so it cannot be sliced")
        return value[start:end]

    return step


def _all(value: Any) -> Any:
    return list(value.values()) if isinstance(value, dict) else value


@dataclass(frozen=True)
class JsonPath:
    """A compiled path of AWS's subset; `$` alone is the whole record."""

    text: str
    steps: tuple[Step, ...]

    @classmethod
    def parse(cls, text: str, member: str) -> JsonPath:
        """Compile `text`, or refuse it naming the member and what is supported."""
        if not text.startswith("$"):
            raise _unsupported(text, member)
        steps: list[Step] = []
        position = 1
        while position < len(text):
            match = _STEP.match(text, position)
            if match is None:
                raise _unsupported(text, member)
            steps.append(_compile(match))
            position = match.end()
        return cls(text, tuple(steps))

    @property
    def selects_all(self) -> bool:
        """Whether the path is `$`: the record as it is."""
        return not self.steps

    def apply(self, value: Any) -> Any:
        """The part of `value` the path selects."""
        for step in self.steps:
            value = step(value)
        return value


def _compile(match: re.Match[str]) -> Step:
    if match.group("name") is not None:
        return _name(match.group("name"))
    if match.group("keys") is not None:
        return _keys(re.findall(r"'([^']*)'", match.group("keys")))
    if match.group("indexes") is not None:
        return _indexes([int(index) for index in match.group("indexes").split(",")])
    if match.group("start") is not None:
        start, end = match.group("start"), match.group("end")
        return _slice(int(start) if start else None, int(end) if end else None)
    return _all


def _unsupported(text: str, member: str) -> ValidationException:
    return ValidationException(
        f"Value '{text}' at '{member}' is not a JSONPath expression batch transform supports: "
        "use $, .name, *, ['a','b'], [i,j] or [start:end] after $"
    )


def _csv_fields(record: bytes) -> list[str]:
    try:
        return next(csv.reader([record.decode("utf-8")], strict=True), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise RecordError(f"not a CSV row: {error}") from None


def _csv_line(fields: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue().encode()


def _json_value(record: bytes) -> Any:
    try:
        return json.loads(record)
    except ValueError as error:
        raise RecordError(f"not a JSON value: {error}") from None


def _json_line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DataProcessing:
    """The three settings of one job, applied record by record."""

    input_filter: JsonPath
    output_filter: JsonPath
    join_input: bool
    csv: bool

    @classmethod
    def from_request(cls, params: dict[str, Any]) -> DataProcessing:
        """Check DataProcessing against the job's content types, as CreateTransformJob does."""
        processing = params.get("DataProcessing", {})
        input_filter = JsonPath.parse(
            processing.get("InputFilter", "$"), "dataProcessing.inputFilter"
        )
        output_filter = JsonPath.parse(
            processing.get("OutputFilter", "$"), "dataProcessing.outputFilter"
        )
        join_input = processing.get("JoinSource", "None") == "Input"
        content_type = _media_type(params["TransformInput"].get("ContentType", ""))
        active = join_input or not (input_filter.selects_all and output_filter.selects_all)
        if active:
            _check_processing(params, content_type)
        return cls(input_filter, output_filter, join_input, content_type == CSV)

    @property
    def per_record(self) -> bool:
        """Whether records must be looked at one by one (otherwise they pass as they are)."""
        return self.join_input or not (
            self.input_filter.selects_all and self.output_filter.selects_all
        )

    def filter_input(self, record: bytes) -> bytes:
        """What the container gets for one input record."""
        if self.input_filter.selects_all:
            return record
        if self.csv:
            selected = self.input_filter.apply(_csv_fields(record))
            return _csv_line(selected if isinstance(selected, list) else [selected])
        return _json_line(self.input_filter.apply(_json_value(record)))

    def output(self, record: bytes, prediction: bytes) -> bytes:
        """The line written for one input record and the container's answer to it."""
        if not self.join_input and self.output_filter.selects_all:
            return prediction
        if self.csv:
            answer = _csv_fields(prediction)
            row = [*_csv_fields(record), *answer] if self.join_input else answer
            selected = self.output_filter.apply(row)
            return _csv_line(selected if isinstance(selected, list) else [selected])
        answer = _json_value(prediction)
        if self.join_input:
            source = _json_value(record)
            joined = (
                {**source, OUTPUT_KEY: answer}
                if isinstance(source, dict)
                else {INPUT_KEY: source, OUTPUT_KEY: answer}
            )
        else:
            joined = answer
        return _json_line(self.output_filter.apply(joined))


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _check_processing(params: dict[str, Any], content_type: str) -> None:
    """AWS's rules for filters and joins: record-shaped types, Accept and assembly by line."""
    output = params["TransformOutput"]
    split = params["TransformInput"].get("SplitType", "None")
    if content_type not in JOINABLE_TYPES:
        raise ValidationException(
            f"DataProcessing needs TransformInput.ContentType {', '.join(JOINABLE_TYPES)}; "
            f"got '{content_type or '(none)'}'"
        )
    accept = _media_type(output.get("Accept", ""))
    if accept != content_type:
        raise ValidationException(
            f"DataProcessing needs TransformOutput.Accept to equal TransformInput.ContentType "
            f"('{content_type}'); got '{accept or '(none)'}'"
        )
    if split != "Line" or output.get("AssembleWith", "None") != "Line":
        raise ValidationException(
            "DataProcessing needs TransformInput.SplitType Line and TransformOutput.AssembleWith "
            f"Line, so that each output line is one input record's; got SplitType {split} and "
            f"AssembleWith {output.get('AssembleWith', 'None')}"
        )
