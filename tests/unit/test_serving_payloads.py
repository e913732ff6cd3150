"""Scoring request bodies of the Azure, MLflow and V2 protocols: parsing, answers, mistakes."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pytest

from lakeworks.errors import InvalidInputError
from lakeworks.serving.payloads import (
    CONTENT_TYPE_FIELD,
    error_reply,
    invalid_reply,
    media_type,
    parse,
    render,
)
from lakeworks.serving.schema import ARRAY_KEY, InputSchema, ModelAnswer, ModelRequest, TensorSpec
from lakeworks.serving.wire import Protocol

JSON = "application/json"
WIDE = InputSchema("wide", (TensorSpec("input", "FP32", (-1, 3)),), None)
WIDE_NAMED = InputSchema("wide", (TensorSpec("input", "FP64", (-1, 3)),), ("a", "b", "c"))
COLUMNS = InputSchema("columns", (TensorSpec("x", "FP64", (-1, 1)), TensorSpec("n", "INT64", (-1,)),
                                  TensorSpec("kind", "BYTES", (-1, 1))), ("x", "n", "kind"))
TENSORS = InputSchema("tensors", (TensorSpec("tokens", "INT64", (-1, 4)),
                                  TensorSpec("mask", "INT64", (-1, 4))))
ANY = InputSchema("any")
CREDIT = InputSchema("wide", (TensorSpec("input", "FP64", (-1, 23)),), None)


def body(value: object) -> bytes:
    return orjson.dumps(value)


def score(protocol: Protocol, value: object, schema: InputSchema = WIDE,
          content_type: str = JSON, outputs: tuple[str, ...] = ()) -> ModelRequest:
    raw = value if isinstance(value, bytes) else body(value)
    return parse(protocol, content_type, raw, schema, outputs=outputs)


def mistake(protocol: Protocol, value: object, schema: InputSchema = WIDE,
            content_type: str = JSON, outputs: tuple[str, ...] = ()) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        score(protocol, value, schema, content_type, outputs)
    return caught.value


# -- Azure /score ------------------------------------------------------------------------------


def test_azure_split_with_integer_columns_as_the_tutorial_sends() -> None:
    rows = [[float(i + j) for j in range(23)] for i in range(2)]
    request = score(Protocol.AZURE, {"input_data": {"columns": list(range(23)), "index": [0, 1],
                                                    "data": rows}}, CREDIT)
    array = request.feed["input"]
    assert request.rows == 2 and array.shape == (2, 23) and array.dtype == np.float64
    assert array[1, 22] == 23.0


def test_azure_array_of_rows_and_named_tensor() -> None:
    request = score(Protocol.AZURE, {"input_data": [[1, 2, 3], [4, 5, 6]]})
    assert request.feed["input"].dtype == np.float32
    assert request.feed["input"].tolist() == [[1, 2, 3], [4, 5, 6]]
    tensor = score(Protocol.AZURE, {"input_data": {"x": [[1, 2, 3]]}})
    assert tensor.rows == 1 and tensor.feed["input"].shape == (1, 3)


def test_split_columns_by_name_are_put_in_the_models_order() -> None:
    request = score(Protocol.AZURE, {"input_data": {"columns": ["c", "a", "b"],
                                                    "data": [[3, 1, 2]]}}, WIDE_NAMED)
    assert request.feed["input"].tolist() == [[1, 2, 3]]
    assert list(request.names) == ["a", "b", "c"]


def test_azure_params_are_kept_and_part_of_the_batch_key() -> None:
    plain = score(Protocol.AZURE, {"input_data": [[1, 2, 3]]})
    tuned = score(Protocol.AZURE, {"input_data": [[1, 2, 3]], "params": {"t": 1}})
    assert tuned.params == {"t": 1} and plain.params is None
    assert plain.batch_key != tuned.batch_key
    assert plain.batch_key == score(Protocol.AZURE, {"input_data": [[4, 5, 6]]}).batch_key


def test_azure_body_without_input_data_says_what_is_expected() -> None:
    error = mistake(Protocol.AZURE, {"data": [[1, 2, 3]]})
    assert "input_data" in str(error) and "rename 'data'" in str(error)
    assert "list" in str(mistake(Protocol.AZURE, [[1, 2, 3]]))
    assert "'extra'" in str(mistake(Protocol.AZURE, {"input_data": [[1, 2, 3]], "extra": 1}))


# -- MLflow /invocations -----------------------------------------------------------------------


def test_mlflow_dataframe_split_and_records() -> None:
    split = score(Protocol.MLFLOW, {"dataframe_split": {"columns": ["x", "n", "kind"],
                                                        "data": [[0.5, 2, "a"], [1.5, 3, "b"]]}},
                  COLUMNS)
    assert split.rows == 2 and split.frame
    assert split.feed["x"].tolist() == [[0.5], [1.5]] and split.feed["n"].dtype == np.int64
    assert split.feed["kind"].ravel().tolist() == ["a", "b"]
    records = score(Protocol.MLFLOW, {"dataframe_records": [
        {"kind": "a", "n": 2, "x": 0.5}, {"kind": "b", "n": 3, "x": 1.5}]}, COLUMNS)
    assert records.feed["n"].tolist() == [2, 3]
    assert records.feed["x"].ravel().tolist() == [0.5, 1.5]


def test_mlflow_instances_inputs_and_params() -> None:
    instances = score(Protocol.MLFLOW, {"instances": [[1, 2, 3]]})
    assert instances.feed["input"].tolist() == [[1, 2, 3]]
    columnar = score(Protocol.MLFLOW, {"inputs": {"x": [1.0], "n": [4], "kind": ["z"]},
                                       "params": {"threshold": 0.3}}, COLUMNS)
    assert columnar.feed["n"].tolist() == [4] and columnar.params == {"threshold": 0.3}
    tensors = score(Protocol.MLFLOW, {"inputs": {"tokens": [[1, 2, 3, 4]],
                                                 "mask": [[1, 1, 0, 0]]}}, TENSORS)
    assert tensors.feed["mask"].shape == (1, 4)


def test_mlflow_csv_and_parquet() -> None:
    request = score(Protocol.MLFLOW, b"kind,n,x\na,1,0.5\nb,2,1.5\n", COLUMNS, "text/csv")
    assert request.rows == 2 and request.feed["kind"].ravel().tolist() == ["a", "b"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1.0], "b": [2.0], "c": [3.0]}), sink)
    parquet = score(Protocol.MLFLOW, sink.getvalue(), WIDE_NAMED,
                    "application/vnd.apache.parquet")
    assert parquet.feed["input"].tolist() == [[1.0, 2.0, 3.0]]


def test_mlflow_needs_exactly_one_input_field() -> None:
    for value in ({"data": [[1, 2, 3]]}, {"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]},
                  [[1, 2, 3]], {"columns": ["a"], "data": [[1]]}):
        error = mistake(Protocol.MLFLOW, value)
        assert "exactly one of the input fields" in error.detail
        assert "dataframe_split" in error.detail


def test_unsupported_content_types_are_415_listing_accepted_ones() -> None:
    error = mistake(Protocol.MLFLOW, b"<xml/>", content_type="application/xml")
    assert error.field == CONTENT_TYPE_FIELD
    assert "text/csv" in error.detail and "application/json" in error.detail
    reply = invalid_reply(Protocol.MLFLOW, error)
    assert reply.status == 415
    assert orjson.loads(reply.body)["error_code"] == "BAD_REQUEST"
    charset = mistake(Protocol.MLFLOW, {"instances": [[1, 2, 3]]},
                      content_type="application/json; charset=latin-1")
    assert charset.field == CONTENT_TYPE_FIELD and "utf-8" in charset.detail
    assert media_type(Protocol.MLFLOW, "application/json; charset=UTF-8") == JSON
    assert media_type(Protocol.AZURE, "") == JSON
    assert mistake(Protocol.V2, b"a,b\n1,2", content_type="text/csv").field == CONTENT_TYPE_FIELD


def test_mlflow_errors_use_mlflows_body() -> None:
    error = mistake(Protocol.MLFLOW, b'{"instances": [[1, 2, 3]')
    reply = invalid_reply(Protocol.MLFLOW, error)
    document = orjson.loads(reply.body)
    assert reply.status == 400 and document["error_code"] == "BAD_REQUEST"
    assert "not valid JSON" in document["message"]
    assert orjson.loads(error_reply(Protocol.AZURE, "boom", 500).body) == {"error": "boom"}


# -- KServe V2 ----------------------------------------------------------------------------------


def test_v2_flat_and_nested_data_with_id_and_outputs() -> None:
    flat = score(Protocol.V2, {"id": "r-1", "inputs": [{"name": "input", "shape": [2, 3],
                                                         "datatype": "FP32",
                                                         "data": [1, 2, 3, 4, 5, 6]}],
                               "outputs": [{"name": "label"}]},
                 outputs=("label", "probabilities"))
    assert flat.feed["input"].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert flat.request_id == "r-1" and flat.outputs == ["label"]
    nested = score(Protocol.V2, {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64",
                                             "data": [[1, 2, 3]]}]})
    assert nested.feed["input"].shape == (1, 3)


def test_v2_one_input_per_column() -> None:
    request = score(Protocol.V2, {"inputs": [
        {"name": "x", "shape": [2], "datatype": "FP64", "data": [0.5, 1.5]},
        {"name": "n", "shape": [2], "datatype": "INT64", "data": [1, 2]},
        {"name": "kind", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}]}, COLUMNS)
    assert request.feed["n"].tolist() == [1, 2] and request.rows == 2


def test_v2_mistakes_name_the_input() -> None:
    size = mistake(Protocol.V2, {"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32",
                                             "data": [1, 2, 3]}]})
    assert "3 values" in size.detail and "[2, 3] needs 6" in size.detail
    dtype = mistake(Protocol.V2, {"inputs": [{"name": "input", "shape": [1, 3],
                                              "datatype": "FLOAT", "data": [1, 2, 3]}]})
    assert "FLOAT" in str(dtype) and "FP32" in str(dtype)
    missing = mistake(Protocol.V2, {"inputs": [{"name": "input", "data": [1, 2, 3]}]})
    assert "shape, datatype" in missing.detail
    wrong = mistake(Protocol.V2, {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "INT64",
                                              "data": [1, 2.5, 3]}]})
    assert "2.5" in wrong.detail and "INT64" in wrong.detail
    output = mistake(Protocol.V2, {"inputs": [{"name": "input", "shape": [1, 3],
                                               "datatype": "FP32", "data": [1, 2, 3]}],
                                   "outputs": [{"name": "score"}]},
                     outputs=("label", "probabilities"))
    assert "'score'" in output.detail and "label, probabilities" in output.detail
    assert "inputs" in mistake(Protocol.V2, {"instances": [[1, 2, 3]]}).detail
    reply = invalid_reply(Protocol.V2, output)
    assert reply.status == 400 and "error" in orjson.loads(reply.body)


# -- mistakes common to every protocol ---------------------------------------------------------


def test_malformed_json_says_where() -> None:
    error = mistake(Protocol.AZURE, b'{"input_data": [[1, 2, 3],]}')
    assert "not valid JSON" in error.detail and "line 1, column" in error.detail
    assert "empty" in mistake(Protocol.AZURE, b"").detail


def test_missing_columns_are_named_with_the_models_columns() -> None:
    error = mistake(Protocol.MLFLOW, {"dataframe_split": {"columns": ["x", "kind"],
                                                          "data": [[1.0, "a"]]}}, COLUMNS)
    assert "lacks the model's column(s) n" in error.detail
    assert "x (FP64), n (INT64), kind (BYTES)" in error.detail
    assert error.field == "n"
    wide = mistake(Protocol.AZURE, {"input_data": {"columns": ["a", "z", "c"],
                                                   "data": [[1, 2, 3]]}}, WIDE_NAMED)
    assert "lacks the model's column(s) b" in wide.detail and "(a, b, c)" in wide.detail


def test_wrong_types_name_column_value_and_expected_type() -> None:
    error = mistake(Protocol.AZURE, {"input_data": {"columns": ["a", "b", "c"],
                                                    "data": [[1, 2, 3], [4, "five", 6]]}},
                    WIDE_NAMED)
    assert "row 1, column 'b'" in error.detail and "'five'" in error.detail
    assert "number (FP64)" in error.detail
    column = mistake(Protocol.MLFLOW, {"dataframe_records": [{"x": 1.0, "n": 1.5, "kind": "a"}]},
                     COLUMNS)
    assert "1.5" in column.detail and "INT64" in column.detail
    text = mistake(Protocol.MLFLOW, {"dataframe_records": [{"x": "big", "n": 1, "kind": "a"}]},
                   COLUMNS)
    assert "column 'x'" in text.detail and "'big'" in text.detail


def test_empty_batches_are_refused() -> None:
    for protocol, value in ((Protocol.AZURE, {"input_data": []}),
                            (Protocol.AZURE, {"input_data": {"columns": ["a"], "data": []}}),
                            (Protocol.MLFLOW, {"dataframe_records": []}),
                            (Protocol.V2, {"inputs": [{"name": "input", "shape": [0, 3],
                                                       "datatype": "FP32", "data": []}]})):
        error = mistake(protocol, value)
        assert "0 rows" in error.detail, (protocol, value, error)
    assert "0 rows" in mistake(Protocol.MLFLOW, b"a,b,c\n", content_type="text/csv").detail


def test_wrong_row_width() -> None:
    uniform = mistake(Protocol.AZURE, {"input_data": [[1, 2], [3, 4]]})
    assert "2 values" in uniform.detail and "takes 3" in uniform.detail
    ragged = mistake(Protocol.AZURE, {"input_data": [[1, 2, 3], [4, 5]]})
    assert "row 1 has 2 values" in ragged.detail
    flat = mistake(Protocol.AZURE, {"input_data": [1, 2, 3]})
    assert "flat list" in flat.detail and "list of rows" in flat.detail
    records = mistake(Protocol.MLFLOW, {"dataframe_records": [{"x": 1, "n": 1, "kind": "a"},
                                                              {"x": 1, "kind": "a"}]}, COLUMNS)
    assert "record 1" in records.detail and "n" in records.detail


def test_tensor_models_take_named_tensors() -> None:
    error = mistake(Protocol.AZURE, {"input_data": {"tokens": [[1, 2, 3, 4]]}}, TENSORS)
    assert "mask" in error.detail
    shape = mistake(Protocol.AZURE, {"input_data": {"tokens": [[1, 2, 3]], "mask": [[1, 2, 3]]}},
                    TENSORS)
    assert "[1, 3]" in shape.detail and "[-1, 4]" in shape.detail


def test_models_without_a_schema_get_what_was_sent() -> None:
    array = score(Protocol.AZURE, {"input_data": [[1, 2], [3, 4]]}, ANY)
    assert ARRAY_KEY in array.feed and array.feed[ARRAY_KEY].shape == (2, 2)
    assert not array.frame
    frame = score(Protocol.MLFLOW, {"dataframe_split": {"columns": ["p", "q"],
                                                        "data": [[1, "a"], [2, "b"]]}}, ANY)
    assert frame.frame and frame.feed["p"].tolist() == [1, 2]
    assert frame.feed["q"].tolist() == ["a", "b"]
    ragged = mistake(Protocol.AZURE, {"input_data": [[1, 2], [3]]}, ANY)
    assert "row 1" in ragged.detail


# -- answers ------------------------------------------------------------------------------------


def test_answers_per_protocol() -> None:
    request = score(Protocol.V2, {"id": "abc", "inputs": [{"name": "input", "shape": [2, 3],
                                                            "datatype": "FP32",
                                                            "data": [1, 2, 3, 4, 5, 6]}]})
    answer = ModelAnswer({"label": np.array([1, 0], dtype=np.int64),
                          "probabilities": np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)},
                         "label")
    assert render(Protocol.AZURE, answer, request, model_name="m", model_version="2") == b"[1,0]"
    mlflow = orjson.loads(render(Protocol.MLFLOW, answer, request, model_name="m",
                                 model_version="2"))
    assert mlflow == {"predictions": [1, 0]}
    v2 = orjson.loads(render(Protocol.V2, answer, request, model_name="m", model_version="2"))
    assert v2["model_name"] == "m" and v2["model_version"] == "2" and v2["id"] == "abc"
    assert v2["outputs"][0] == {"name": "label", "shape": [2], "datatype": "INT64",
                                "data": [1, 0]}
    assert v2["outputs"][1]["shape"] == [2, 2] and v2["outputs"][1]["datatype"] == "FP32"
    request.outputs = ["probabilities"]
    only = orjson.loads(render(Protocol.V2, answer, request, model_name="m", model_version="2"))
    assert [o["name"] for o in only["outputs"]] == ["probabilities"]


def test_regressor_floats_text_labels_and_records() -> None:
    request = score(Protocol.AZURE, {"input_data": [[1, 2, 3]]})
    floats = ModelAnswer({"variable": np.array([1.5], dtype=np.float32)}, "variable")
    assert orjson.loads(render(Protocol.AZURE, floats, request, model_name="m",
                               model_version=None)) == [1.5]
    text = ModelAnswer({"label": np.array(["yes"], dtype=object)}, "label")
    assert render(Protocol.AZURE, text, request, model_name="m", model_version=None) == b'["yes"]'
    records = ModelAnswer({"a": np.array([1]), "b": np.array(["x"], dtype=object)}, None)
    assert orjson.loads(render(Protocol.MLFLOW, records, request, model_name="m",
                               model_version=None)) == {"predictions": [{"a": 1, "b": "x"}]}


def test_v2_one_dimensional_tensor_for_a_wide_model_asks_for_rows() -> None:
    error = mistake(Protocol.V2, {"inputs": [{"name": "input", "shape": [3], "datatype": "FP32",
                                              "data": [1, 2, 3]}]})
    assert "flat list of 3 values" in error.detail and "[rows, 3]" in error.detail
    text = mistake(Protocol.V2, {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "BYTES",
                                             "data": ["a", "b", "c"]}]})
    assert "row 0, column '0'" in text.detail and "'a'" in text.detail
