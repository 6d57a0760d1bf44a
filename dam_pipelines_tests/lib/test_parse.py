from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from dam_pipelines.lib.manifest import BatchRejected
from dam_pipelines.lib.parse import (
    Part,
    as_text,
    combine_parts,
    decode_strict,
    read_csv_part,
    read_parquet_part,
)


def _rows(data: bytes, encoding: str = "utf-8") -> list[dict[str, str | None]]:
    return read_csv_part("p.csv", data, encoding).frame.to_dicts()


def _decode_error(data: bytes, encoding: str = "utf-8") -> str:
    with pytest.raises(BatchRejected) as err:
        read_csv_part("p.csv", data, encoding)
    assert err.value.reason == "DECODE_ERROR"
    assert err.value.detail.startswith("p.csv: ")
    return err.value.detail


def test_cp949_only_syllables_decode_exactly() -> None:
    text = "name,city\n똠방각하,뷁\n"
    data = text.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        data.decode("euc-kr")  # these syllables exist only in CP949's extension
    assert _rows(data, "cp949") == [{"name": "똠방각하", "city": "뷁"}]


def test_bytes_invalid_in_cp949_are_a_decode_error() -> None:
    detail = _decode_error(b"a,b\n1,\x81\x20\n", "cp949")  # a lead byte without a valid trail
    assert "cp949" in detail and "line 2" in detail


def test_invalid_utf8_is_a_decode_error_never_replaced() -> None:
    detail = _decode_error("a,b\n1,똠\n".encode("cp949"), "utf-8")
    assert "utf-8" in detail and "line 2" in detail


def test_utf8_bom_and_crlf() -> None:
    data = b'\xef\xbb\xbfa,b\r\n1,"x"\r\n2,y\r\n'
    part = read_csv_part("p.csv", data, "utf-8")
    assert part.columns == ("a", "b")
    assert part.frame.to_dicts() == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]


def test_a_bom_is_stripped_only_at_the_start() -> None:
    assert decode_strict(b"\xef\xbb\xbfa", "utf-8") == b"a"
    assert decode_strict("a똠".encode("cp949"), "cp949") == "a똠".encode()


def test_quoted_commas_quotes_and_newlines_and_empty_is_null() -> None:
    data = b'a,b,c\n"x, y","say ""hi""","line1\nline2\r\nline3"\n"",,z\n'
    assert _rows(data) == [
        {"a": "x, y", "b": 'say "hi"', "c": "line1\nline2\r\nline3"},
        {"a": None, "b": None, "c": "z"},
    ]


def test_header_in_any_order_and_last_line_without_line_end() -> None:
    part = read_csv_part("p.csv", b"b,a\n2,1", "utf-8")
    assert part.columns == ("b", "a") and part.frame.to_dicts() == [{"b": "2", "a": "1"}]


def test_header_only_and_empty_file() -> None:
    header_only = read_csv_part("p.csv", b"a,b\n", "utf-8")
    assert (header_only.columns, header_only.rows) == (("a", "b"), 0)
    empty = read_csv_part("p.csv", b"", "utf-8")
    assert (empty.columns, empty.rows) == ((), 0)


def test_only_the_asked_columns_are_kept() -> None:
    part = read_csv_part("p.csv", b"a,x,b\n1,2,3\n", "utf-8", columns=["a", "b"])
    assert part.columns == ("a", "x", "b")
    assert part.frame.columns == ["a", "b"] and part.rows == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"a,b\n1\n", "line 2 (data row 1): has 1 field, the header has 2"),
        (b"a,b\n1,2\n3,4,5\n", "line 3 (data row 2): has 3 fields"),
        (b"a,b\n1,2\n\n", "line 3 (data row 2): has 1 field"),
        (b'a,b\n"1,2\n', "never closed"),
        (b'a,b\nx"y,2\n', "double quote inside an unquoted field"),
        (b'a,b\n"x"y,2\n', "text follows a closing double quote"),
        (b'a,b\n"x" ,2\n', "text follows a closing double quote"),
        (b"a,b\r1,2\r", "carriage return"),
        (b"a,b\n1,2\r3,4\n", "carriage return"),
        (b"a,a\n1,2\n", "header names column 'a' twice"),
    ],
)
def test_malformed_csv_is_a_decode_error(data: bytes, words: str) -> None:
    assert words in _decode_error(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        # commas that add up over the part: one record short, one long (without quotes, the
        # cheap structure check passes them to the reader, which must refuse the long one)
        pytest.param(
            b"a,b,c\n1,2\n3,4,5,6\n7,8,9\n", "line 2 (data row 1): has 2 fields", id="short-long"
        ),
        pytest.param(
            b"a,b,c\r\n1,2,3,4\r\n5,6\r\n", "line 2 (data row 1): has 4 fields", id="crlf"
        ),
        pytest.param(
            b"a,b,c\n" + b"1,2,3\n" * 200_000 + b"1,2,3,4\n1,2\n",
            "data row 200001): has 4",
            id="far-down",
        ),
        pytest.param(
            b"a,b,c\n1,2,3\n\n4,5,6,7\n", "line 3 (data row 2): has 1 field", id="blank-line"
        ),
        pytest.param(
            b"a,b,c\n1,2\n3,4,5,6", "line 2 (data row 1): has 2 fields", id="unterminated"
        ),
        pytest.param(b"a,b\n1,2\r\n3,4\r", "carriage return", id="lone-cr"),
        # the reader drops one trailing empty field of a last line without a line end
        pytest.param(b"a,b\n1\n2,3,", "line 2 (data row 1): has 1 field", id="last-line-comma"),
        pytest.param(b"a,b\r\n1\r\n,,", "line 2 (data row 1): has 1 field", id="last-line-commas"),
        # a bad record is named before a header that names a column twice, as by the exact check
        pytest.param(b"a,b,a\n1,2\n3,4,5,6\n", "line 2 (data row 1): has 2 fields", id="twice"),
    ],
)
@pytest.mark.parametrize("columns", [None, ["a", "b"]])
def test_records_whose_fields_only_add_up_are_a_decode_error(
    data: bytes, words: str, columns: list[str] | None
) -> None:
    with pytest.raises(BatchRejected) as err:
        read_csv_part("p.csv", data, "utf-8", columns=columns)
    assert err.value.reason == "DECODE_ERROR" and words in err.value.detail


def test_a_part_with_no_declared_column_still_has_its_records_checked() -> None:
    # no column is read, so the reader refuses nothing: the exact check decides
    with pytest.raises(BatchRejected) as err:
        read_csv_part("p.csv", b"x,y\n1\n2,3,4\n", "utf-8", columns=["a"])
    assert "line 2 (data row 1): has 1 field" in err.value.detail


@pytest.mark.parametrize(
    "data",
    [
        b"a,b,c\n1,,3\n4,5,\n",
        b"a,b,c\r\n1,2,3\r\n4,5,6",
        b"a\n1\n\n2\n",  # one column: a blank line is a null value
        b"x,a,b\n1,2,3\n",
        b"a,b\n",
        "a,b\n한글,2\n".encode(),
    ],
)
def test_a_part_without_quotes_reads_as_the_exact_check_reads_it(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dam_pipelines.lib import parse

    cheap = read_csv_part("p.csv", data, "utf-8", columns=["a", "b", "c"])
    monkeypatch.setattr(parse, "_plain_structure", lambda _buf: None)
    exact = read_csv_part("p.csv", data, "utf-8", columns=["a", "b", "c"])
    assert (cheap.columns, cheap.rows) == (exact.columns, exact.rows)
    assert_frame_equal(cheap.frame, exact.frame)


def test_decode_error_names_the_row_after_multiline_values() -> None:
    data = b'a,b\n"x\ny",1\n2\n'
    assert "line 4 (data row 2)" in _decode_error(data)


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_parquet_native_types_render_as_csv_text() -> None:
    kst = timezone(timedelta(hours=9))
    table = pa.table(
        {
            "i": pa.array([15000, None], pa.int64()),
            "u": pa.array([3, 0], pa.uint8()),
            "f": pa.array([0.035, 1e-7], pa.float64()),
            "d": pa.array([Decimal("12.50"), Decimal("-0.01")], pa.decimal128(10, 2)),
            "b": pa.array([True, False]),
            "day": pa.array([date(2026, 11, 24), None], pa.date32()),
            "ts": pa.array(
                [
                    datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC),
                    datetime(2026, 11, 24, 13, 5, 9, 500000, tzinfo=kst),
                ],
                pa.timestamp("us", tz="Asia/Seoul"),
            ),
            "naive": pa.array([datetime(2026, 11, 24, 13, 5, 9), None], pa.timestamp("ms")),
            "s": pa.array(["", "뷁"]),
            "dict": pa.array(["A", "B"]).dictionary_encode(),
        }
    )
    part = read_parquet_part("p.parquet", _parquet(table))
    assert part.rows == 2 and part.columns == tuple(table.column_names)
    assert set(part.frame.schema.values()) == {pl.Utf8}
    rows = part.frame.to_dicts()
    assert rows[0] == {
        "i": "15000",
        "u": "3",
        "f": "0.035",
        "d": "12.50",
        "b": "Y",
        "day": "2026-11-24",
        "ts": "2026-11-24T13:05:09+09:00",
        "naive": "2026-11-24T13:05:09",
        "s": None,
        "dict": "A",
    }
    assert rows[1] == {
        "i": None,
        "u": "0",
        "f": "0.0000001",
        "d": "-0.01",
        "b": "N",
        "day": None,
        "ts": "2026-11-24T13:05:09.500+09:00",
        "naive": None,
        "s": "뷁",
        "dict": "B",
    }


def test_declared_integers_and_zoned_microsecond_timestamps_may_stay_native(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dam_pipelines.lib import parse

    table = pa.table(
        {
            "i32": pa.array([-7, None], pa.int32()),
            "u32": pa.array([4_000_000_000, 0], pa.uint32()),
            "u64": pa.array([2**63, 1], pa.uint64()),  # not every value fits Int64: text
            "ts": pa.array(
                [datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC), None],
                pa.timestamp("us", tz="Asia/Seoul"),
            ),
            "ms": pa.array(
                [datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC), None], pa.timestamp("ms", tz="UTC")
            ),
            "naive": pa.array([datetime(2026, 11, 24, 4, 5, 9), None], pa.timestamp("us")),
            "f": pa.array([1.5, 2.0]),  # a fraction in a column declared an integer: text
            "s": pa.array(["1", "2"]),
            "plain": pa.array([1, 2], pa.int64()),  # not declared: text
        }
    )
    native = {c: "int" for c in ("i32", "u32", "u64", "f", "s")} | {
        c: "timestamp" for c in ("ts", "ms", "naive")
    }
    part = read_parquet_part("p.parquet", _parquet(table), native=native)
    schema = part.frame.schema
    assert schema["i32"] == schema["u32"] == pl.Int64
    assert schema["ts"] == pl.Datetime("us", "Asia/Seoul")
    assert {c for c, t in schema.items() if t == pl.Utf8} == {
        "u64",
        "ms",
        "naive",
        "f",
        "s",
        "plain",
    }
    assert part.frame["u32"].to_list() == [4_000_000_000, 0]
    # shown as text exactly as the part read with nothing kept native
    monkeypatch.setattr(parse, "_kept_native", lambda _s, _kind: None)
    assert (
        as_text(part.frame, part.frame.columns).to_dicts()
        == read_parquet_part("p.parquet", _parquet(table), native=native).frame.to_dicts()
    )


def test_whole_floats_of_an_int_column_read_as_integers_and_dates_stay_native() -> None:
    """pandas writes an int column with a null as float64: whole floats are the integers,
    natively when every value is, value by value in the text otherwise. Dates stay native; a
    naive timestamp in a date column is text (it fails TYPE: native timestamps must carry a
    zone)."""
    day = datetime(2026, 11, 24)
    table = pa.table(
        {
            "whole": pa.array([15000.0, None, -3.0], pa.float64()),
            "mixed": pa.array([15000.0, 0.5, float("nan")], pa.float64()),
            "big": pa.array([2.0**63, 1.0, None], pa.float64()),
            "dates": pa.array([date(2026, 11, 24), None, date(2026, 2, 28)], pa.date32()),
            "midnights": pa.array([day, None, day], pa.timestamp("ns")),
            "times": pa.array([day, day.replace(hour=10), None], pa.timestamp("us")),
            "zoned": pa.array([day, None, day], pa.timestamp("us", tz="UTC")),
            "float_rate": pa.array([15000.0, 1.0, 2.0], pa.float64()),  # not declared an int
        }
    )
    native = {"whole": "int", "mixed": "int", "big": "int"} | {
        c: "date" for c in ("dates", "midnights", "times", "zoned")
    }
    frame = read_parquet_part("p.parquet", _parquet(table), native=native).frame
    assert frame.schema["whole"] == pl.Int64 and frame["whole"].to_list() == [15000, None, -3]
    assert frame.schema["dates"] == pl.Date
    assert frame["midnights"].to_list() == ["2026-11-24T00:00:00", None, "2026-11-24T00:00:00"]
    assert frame["mixed"].to_list() == ["15000", "0.5", "NaN"]
    assert frame["big"].to_list() == ["9223372036854776000", "1", None]  # beyond Int64
    assert frame["times"].to_list() == ["2026-11-24T00:00:00", "2026-11-24T10:00:00", None]
    midnight_utc = "2026-11-24T00:00:00+00:00"
    assert frame["zoned"].to_list() == [midnight_utc, None, midnight_utc]
    assert frame["float_rate"].to_list() == ["15000.0", "1.0", "2.0"]


def test_combine_parts_keeps_a_column_native_only_when_every_part_has_it_native() -> None:
    ts = pl.Series([datetime(2026, 11, 24, 4, 5, 9, tzinfo=UTC)], dtype=pl.Datetime("us", "UTC"))
    p1 = Part(
        "one.parquet", ("t", "n"), pl.DataFrame({"t": ts, "n": pl.Series([1], dtype=pl.Int64)}), 1
    )
    p2 = Part("two.parquet", ("t",), pl.DataFrame({"t": ts}), 1)
    p3 = Part(
        "three.parquet",
        ("t", "n"),
        pl.DataFrame({"t": ["x"], "n": [None]}, schema={"t": pl.Utf8, "n": pl.Utf8}),
        1,
    )
    both = combine_parts([p1, p2], ["t", "n"])
    assert both.schema["t"] == pl.Datetime("us", "UTC") and both.schema["n"] == pl.Int64
    assert both["n"].to_list() == [1, None]
    mixed = combine_parts([p1, p2, p3], ["t", "n"])
    assert mixed.schema["t"] == mixed.schema["n"] == pl.Utf8
    assert mixed["t"].to_list() == ["2026-11-24T04:05:09+00:00"] * 2 + ["x"]
    assert mixed["n"].to_list() == ["1", None, None]


def test_parquet_unreadable_or_unsupported_is_a_decode_error() -> None:
    with pytest.raises(BatchRejected) as err:
        read_parquet_part("p.parquet", b"PAR1 not really")
    assert err.value.reason == "DECODE_ERROR" and err.value.detail.startswith("p.parquet: ")
    nested = _parquet(pa.table({"a": pa.array([[1, 2]])}))
    with pytest.raises(BatchRejected) as err:
        read_parquet_part("p.parquet", nested, columns=["a"])
    assert err.value.reason == "DECODE_ERROR" and "'a'" in err.value.detail
    # an unsupported column that is not asked for is simply not read (it will be dropped)
    assert read_parquet_part("p.parquet", nested, columns=["b"]).columns == ("a",)


def test_an_undeclared_column_may_repeat_a_name_a_declared_one_may_not() -> None:
    """Extra columns are dropped as schema drift, even when two share a name (an empty one
    too); a column the dam reads, named twice, cannot be read unambiguously."""
    data = b"a,b,note,,note,\n1,x,n1,,n2,\n2,y,,,,\n"
    part = read_csv_part("p.csv", data, "utf-8", columns=["a", "b"])
    assert part.columns == ("a", "b", "note", "", "note", "") and part.rows == 2
    assert part.frame.to_dicts() == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    with pytest.raises(BatchRejected) as err:
        read_csv_part("p.csv", b"a,b,a\n1,2,3\n", "utf-8", columns=["a", "b"])
    assert "the header names column 'a' twice" in err.value.detail
    table = pa.Table.from_arrays(
        [pa.array(["1"]), pa.array(["n1"]), pa.array(["n2"])], names=["a", "note", "note"]
    )
    part = read_parquet_part("p.parquet", _parquet(table), columns=["a"])
    assert part.frame.to_dicts() == [{"a": "1"}]
    with pytest.raises(BatchRejected) as err:
        read_parquet_part("p.parquet", _parquet(table), columns=["a", "note"])
    assert "the file names column 'note' twice" in err.value.detail


def test_parquet_decimals_wider_than_38_digits_are_read_as_text() -> None:
    # pyarrow reads any parquet DECIMAL of precision 39 or more as decimal256, which polars
    # cannot take: it is rendered as text, as a csv part would carry it.
    price = pa.array([Decimal("71500.5"), None], pa.decimal256(40, 1))
    part = read_parquet_part("p.parquet", _parquet(pa.table({"price": price})))
    assert part.frame.to_dicts() == [{"price": "71500.5"}, {"price": None}]


def test_a_reader_panic_rejects_the_part_instead_of_ending_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def panic(*_a: object, **_k: object) -> None:
        raise pl.exceptions.PanicException("not implemented for this type")

    monkeypatch.setattr(pl, "from_arrow", panic)
    with pytest.raises(BatchRejected) as err:
        read_parquet_part("p.parquet", _parquet(pa.table({"a": pa.array([1])})))
    assert err.value.reason == "DECODE_ERROR" and "'a'" in err.value.detail


def test_combine_parts_numbers_rows_across_parts_and_fills_absent_columns() -> None:
    p1 = Part("one.csv", ("a", "b"), pl.DataFrame({"a": ["1", "2"], "b": ["x", None]}), 2)
    p2 = Part("two.csv", ("a",), pl.DataFrame({"a": ["3"]}), 1)
    out = combine_parts([p1, p2], ["b", "a"])
    expected = pl.DataFrame(
        {
            "b": ["x", None, None],
            "a": ["1", "2", "3"],
            "_source_file": ["one.csv", "one.csv", "two.csv"],
            "_row_number": [1, 2, 3],
        },
        schema={"b": pl.Utf8, "a": pl.Utf8, "_source_file": pl.Utf8, "_row_number": pl.Int64},
    )
    assert_frame_equal(out, expected)


def test_combine_parts_of_nothing_is_an_empty_frame() -> None:
    out = combine_parts([Part("e.csv", ("a",), pl.DataFrame(schema={"a": pl.Utf8}), 0)], ["a"])
    assert out.height == 0 and out.columns == ["a", "_source_file", "_row_number"]


def test_a_file_without_any_asked_column_still_counts_its_rows() -> None:
    part = read_csv_part("p.csv", b"x,y\n1,2\n3,4\n", "utf-8", columns=["a"])
    assert (part.columns, part.rows, part.frame.width) == (("x", "y"), 2, 0)
