"""Reading a batch's data parts into polars frames of text (contract §1, CSV dialect).

csv: strict decoding in the declared encoding (UTF-8 with an optional BOM, or CP949), an exact
RFC 4180 structure check (vectorized over the bytes with numpy), then polars' reader.
parquet: any readable file; native values are rendered as the text the csv dialect would carry,
so that one set of row checks serves both formats. An empty string is null in both. The one
exception: a column the caller declares an integer, a date or a timestamp, and whose parquet
type holds exactly such values (signed integers up to 64 bits, unsigned up to 32, or whole
floats; dates; a microsecond timestamp with a time zone), is kept native (``native``):
rendering it as text and parsing it back gives the same values, at about a third of a
night's parquet reading. Such a column is rendered only where text is shown
(:func:`as_text`, for the quarantine). Whole floats are what pandas writes for an integer
column that has a null.

Problems raise ``BatchRejected("DECODE_ERROR", ...)`` naming the file, line and data row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dam_pipelines.lib.manifest import BatchRejected

ROW_NUMBER = "_row_number"
SOURCE_FILE = "_source_file"

_BOM = b"\xef\xbb\xbf"
_QUOTE, _COMMA, _LF, _CR = ord('"'), ord(","), ord("\n"), ord("\r")


@dataclass(frozen=True)
class Part:
    """One decoded data file."""

    name: str
    columns: tuple[str, ...]  # every column of the file (csv header / parquet schema), in order
    # the columns asked for (all of them when none were named): Utf8, or native (module doc)
    frame: pl.DataFrame
    rows: int  # data rows (csv header excluded)


def _decode_error(name: str, detail: str) -> BatchRejected:
    return BatchRejected("DECODE_ERROR", f"{name}: {detail}")


def decode_strict(data: bytes, encoding: str, name: str = "file") -> bytes:
    """The csv bytes as UTF-8 without BOM, after a strict decode in ``encoding``.

    ``encoding`` is ``utf-8`` (one leading BOM allowed) or ``cp949`` (Python's codec, strict).
    """
    if encoding not in ("utf-8", "cp949"):
        raise ValueError(f"unsupported encoding {encoding!r}")
    if data.isascii():  # ASCII is itself in both encodings: nothing to decode or re-encode
        return data
    if encoding == "utf-8":
        body = data[len(_BOM) :] if data.startswith(_BOM) else data
        codec = "utf-8"
    else:
        body, codec = data, "cp949"
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(data) - len(body))
        line = data.count(b"\n", 0, offset) + 1
        raise _decode_error(
            name, f"bytes invalid in {encoding} at byte offset {offset} (line {line})"
        ) from None
    return body if codec == "utf-8" else text.encode("utf-8")


def _first(mask: np.ndarray, positions: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(positions[hits[0]]) if hits.size else None


_AFTER_CLOSE = np.zeros(256, dtype=np.bool_)
_AFTER_CLOSE[[_COMMA, _LF, _CR, _QUOTE]] = True
_BEFORE_OPEN = np.zeros(256, dtype=np.bool_)
_BEFORE_OPEN[[_COMMA, _LF, _QUOTE]] = True


@dataclass(frozen=True)
class _Layout:
    ends: (
        np.ndarray
    )  # end offset of every record (its LF, or len(buf) for an unterminated last one)
    fields: int  # fields per record (the header's)


def check_csv_structure(buf: bytes, name: str = "file") -> _Layout:
    """Check ``buf`` (UTF-8, no BOM, not empty) is well-formed RFC 4180 with a constant field count.

    Exact: a quote opens a field only at its start, closes it only before a comma, a line end
    or the end of the file, and is doubled inside; a CR outside quotes is part of a CRLF; every
    record (the header included) has the header's number of fields, so a blank line is an error
    (unless the file has one column). UTF-8 continuation bytes are never ASCII, so scanning
    bytes is safe. Vectorized: only the positions of the four structural bytes are kept.
    """
    a = np.frombuffer(buf, dtype=np.uint8)
    size = a.size
    special = a == _COMMA
    scratch = np.empty_like(special)
    for byte in (_LF, _QUOTE, _CR):
        if byte == _LF or buf.find(bytes([byte])) >= 0:  # most files have no quote and no CR
            special |= np.equal(a, byte, out=scratch)
    del scratch
    pos = np.flatnonzero(special)
    del special
    kind = a[pos]
    is_quote = kind == _QUOTE
    problems: list[tuple[int, str]] = []
    if is_quote.any():
        quotes_before = np.cumsum(is_quote, dtype=np.int32 if is_quote.size < 2**31 else np.int64)
        quotes_before -= is_quote
        outside = (quotes_before & 1) == 0
        quotes = pos[is_quote]
        opening = outside[is_quote]  # an even number of quotes before it
        opens, closes = quotes[opening], quotes[~opening]
        if quotes.size % 2:
            problems.append((int(opens[-1]), "a quoted field is never closed"))
        after = closes + 1
        bad_close = (after < size) & ~_AFTER_CLOSE[a[np.minimum(after, size - 1)]]
        hit = _first(bad_close, closes)
        if hit is not None:
            problems.append(
                (
                    hit,
                    "text follows a closing double quote (a quote inside a "
                    "quoted field must be doubled)",
                )
            )
        bad_open = (opens > 0) & ~_BEFORE_OPEN[a[np.maximum(opens - 1, 0)]]
        hit = _first(bad_open, opens)
        if hit is not None:
            problems.append((hit, "a double quote inside an unquoted field"))
        keep = outside & ~is_quote
        pos, kind = pos[keep], kind[keep]
    is_cr = kind == _CR
    if is_cr.any():
        crs = pos[is_cr]
        follow = a[np.minimum(crs + 1, size - 1)]
        hit = _first((crs + 1 >= size) | (follow != _LF), crs)
        if hit is not None:
            problems.append((hit, "a carriage return that is not part of a CRLF line end"))
        pos, kind = pos[~is_cr], kind[~is_cr]

    # Now only structural commas and line feeds remain, in order.
    lf = np.flatnonzero(kind == _LF)
    ends = pos[lf]
    if lf.size == 0 or ends[-1] != size - 1:
        lf = np.append(lf, kind.size)
        ends = np.append(ends, size)
    fields = np.diff(lf, prepend=-1)  # commas between line feeds + 1
    expected = int(fields[0])
    wrong = np.flatnonzero(fields != expected)
    if wrong.size:
        r = int(wrong[0])
        start = int(ends[r - 1]) + 1
        n = int(fields[r])
        problems.append((start, f"has {n} field{'s' * (n != 1)}, the header has {expected} fields"))

    if problems:
        # The first record with a problem; a quoting problem explains a wrong field count.
        record, _, pos, what = min(
            (int(np.searchsorted(ends, p)), "fields" in w, p, w) for p, w in problems
        )
        line = buf.count(b"\n", 0, pos) + 1
        where = "header" if record == 0 else f"data row {record}"
        raise _decode_error(name, f"line {line} ({where}): {what}; not well-formed RFC 4180 csv")
    return _Layout(ends, expected)


def _plain_structure(buf: bytes) -> tuple[int, int] | None:
    """(end of the header line, data rows) of a part :func:`check_csv_structure` would accept,
    found cheaply when the part holds no double quote; None when it has one, or when its
    counts do not add up (the exact check then decides, and names the first bad record).

    Without quotes, every comma separates fields and every LF ends a record. The part passes
    when every CR is part of a CRLF and its commas number exactly (records) x (header's fields
    - 1): then no record has fewer fields than the header unless another has more, and the
    reader refuses a record with more fields than the header (it is called on every column,
    :func:`read_csv_part`; ``test_parse`` holds it to that), except one trailing empty field
    on a last line without a line end, which it drops: that line's commas are counted too.
    Byte counts instead of the positions of every comma: about 8 against 32 ms for a 14 MB
    part.
    """
    if b'"' in buf:
        return None
    a = np.frombuffer(buf, dtype=np.uint8)
    if b"\r" in buf:
        crs = np.flatnonzero(a == _CR)
        if crs[-1] + 1 >= a.size or not bool((a[crs + 1] == _LF).all()):
            return None
    header_end = buf.find(b"\n")
    if header_end < 0:
        header_end = len(buf)
    fields = buf.count(b",", 0, header_end) + 1
    records = int(np.count_nonzero(a == _LF)) + (buf[-1:] != b"\n")
    if int(np.count_nonzero(a == _COMMA)) != records * (fields - 1):
        return None
    if buf[-1:] != b"\n" and buf.count(b",", buf.rfind(b"\n") + 1) != fields - 1:
        return None  # ``2,3,`` under a two-column header, its line unterminated
    return header_end, records - 1


def _header(buf: bytes, end: int, name: str) -> tuple[str, ...]:
    text = buf[:end].decode("utf-8")
    if text.endswith("\r"):
        text = text[:-1]
    try:
        names = tuple(next(csv.reader(io.StringIO(text), strict=True), []))
    except csv.Error:
        raise _decode_error(name, "the header row cannot be read") from None
    return names


def _twice(
    name: str, names: Sequence[str], columns: Sequence[str] | None, where: str = "the header"
) -> None:
    """A column the dam reads (one of ``columns``; any when None) named twice cannot be read
    unambiguously: the file is a DECODE_ERROR. A repeated undeclared name is only extra
    columns, dropped as schema drift like any other."""
    seen: set[str] = set()
    for n in names:
        if n in seen and (columns is None or n in columns):
            raise _decode_error(name, f"{where} names column {n!r} twice")
        seen.add(n)


def _empty_to_null(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        [
            pl.when(pl.col(c).str.len_bytes() > 0).then(pl.col(c)).alias(c)
            for c, t in df.schema.items()
            if t == pl.Utf8
        ]
    )


def read_csv_part(
    name: str, data: bytes, encoding: str, columns: Sequence[str] | None = None
) -> Part:
    """Decode and parse one csv part (see module doc). An empty file has no columns.

    A part without quotes is first read on the cheap structure check (:func:`_plain_structure`);
    whenever that read cannot vouch for the part (a bad header, a reader error, a row count
    that differs, a projection or no rows, which leave extra fields unrefused), the part is read
    again on the exact check, which names the first bad record before anything else."""
    buf = decode_strict(data, encoding, name)
    if not buf:
        return Part(name, (), pl.DataFrame(), 0)
    plain = _plain_structure(buf)
    if plain is not None:
        try:
            part = _read_records(name, buf, *plain, columns, vouched=False)
        except BatchRejected:
            part = None
        if part is not None:
            return part
    layout = check_csv_structure(buf, name)
    part = _read_records(
        name, buf, int(layout.ends[0]), int(layout.ends.size) - 1, columns, vouched=True
    )
    assert part is not None
    return part


def _read_records(
    name: str,
    buf: bytes,
    header_end: int,
    rows: int,
    columns: Sequence[str] | None,
    *,
    vouched: bool,
) -> Part | None:
    """The part's header and records. ``vouched``: the exact structure check passed; without
    it, None when the reader could not refuse a record with extra fields (the records are not
    read, or only some of their columns)."""
    header = _header(buf, header_end, name)
    _twice(name, header, columns)
    keep = [c for c in header if columns is None or c in columns]
    body = buf[header_end + 1 :]
    if not body or not keep:
        if body and not vouched:  # records no reader refused
            return None
        return Part(name, header, pl.DataFrame(schema={c: pl.Utf8 for c in keep}), rows)
    picked = [i for i, c in enumerate(header) if c in keep]
    if not vouched and len(picked) != len(header):
        return None
    try:
        df = pl.read_csv(
            body,
            has_header=False,
            # positional names: an undeclared column may repeat a name
            schema={f"column_{i}": pl.Utf8 for i in range(len(header))},
            # every column, when all are kept: the reader refuses a record with more fields
            # than the header only when it reads them all (``_plain_structure`` relies on it)
            columns=None if len(picked) == len(header) else picked,
            quote_char='"',
            comment_prefix=None,
            raise_if_empty=False,
        ).rename({f"column_{i}": header[i] for i in picked})
    except pl.exceptions.PolarsError as exc:  # not expected after the exact check
        raise _decode_error(name, f"the csv reader failed ({type(exc).__name__})") from None
    if df.height != rows:  # not expected either; never load a file read two ways
        raise _decode_error(name, f"the csv reader found {df.height} rows, the structure {rows}")
    df = df.select(keep)
    # Unquoted empty fields are already null; only a quoted "" can leave an empty string.
    # (One quote byte is looked for first: a memchr, where a two-byte search of the same
    # 14 MB part takes 11 ms.)
    quoted_empty = b'"' in body and b'""' in body
    return Part(name, header, _empty_to_null(df) if quoted_empty else df, rows)


def _float_text(s: pl.Series) -> pl.Series:
    """Floats as positional decimal text (``1e-07`` becomes ``0.0000001``)."""
    out = s.cast(pl.Utf8)
    odd = (out.str.contains(r"[eE]")).fill_null(False)
    if odd.any():
        idx = odd.arg_true()
        values = s.gather(idx).to_numpy()
        out = out.scatter(idx, [np.format_float_positional(v, trim="-") for v in values])
    return out


def _whole(s: pl.Series) -> pl.Series:
    """Per value of a float column: a whole number that fits Int64 (null for null)."""
    return (s.is_finite() & (s == s.floor()) & (s.abs() < 2.0**63)).alias(s.name)


def _as_text(s: pl.Series, name: str, kind: str | None = None) -> pl.Series:
    """One native parquet column rendered as csv text (see module doc).

    ``kind``: what the declared column holds. An ``int`` column delivered as floats (pandas
    writes an integer column with nulls as float64) renders a whole value as the integer
    (``100.0`` as ``100``); any other float renders as in any column, and fails TYPE."""
    dt = s.dtype
    if kind == NATIVE_INT and dt.is_float():
        whole = _whole(s)
        return (
            s.to_frame()
            .select(
                pl.when(whole)
                .then(s.cast(pl.Int64, strict=False).cast(pl.Utf8))
                .otherwise(_float_text(s))
            )
            .to_series()
            .alias(s.name)
        )
    if dt == pl.Utf8:
        out = s
    elif dt == pl.Boolean:
        b = pl.col(s.name)
        out = (
            s.to_frame().select(pl.when(b).then(pl.lit("Y")).when(~b).then(pl.lit("N"))).to_series()
        )
    elif dt.is_float():
        out = _float_text(s)
    elif isinstance(dt, pl.Datetime):
        fmt = "%Y-%m-%dT%H:%M:%S%.f"
        # A naive timestamp is rendered without an offset, so it fails TYPE like in csv.
        out = s.dt.to_string(fmt + "%:z" if dt.time_zone else fmt)
    elif (
        dt.is_numeric()
        or dt in (pl.Date, pl.Time, pl.Null, pl.Categorical)
        or isinstance(dt, pl.Duration | pl.Enum | pl.Binary)
    ):
        try:
            out = s.cast(pl.Utf8)
        except pl.exceptions.PolarsError:
            raise _decode_error(name, f"column {s.name!r} holds bytes that are not UTF-8") from None
    else:
        raise _decode_error(name, f"column {s.name!r} has an unsupported parquet type {dt}")
    return out.alias(s.name)


#: What a declared column holds, for :func:`read_parquet_part`'s ``native``.
NATIVE_INT, NATIVE_DATE, NATIVE_TIMESTAMP = "int", "date", "timestamp"
# Every value of these converts to Int64 exactly (an unsigned 64-bit one may not: text).
_EXACT_INTS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _kept_native(s: pl.Series, kind: str | None) -> pl.Series | None:
    """``s`` as the typed value its declared kind parses to, when its parquet type holds exactly
    that (the text it would be rendered as parses back to the same value); None otherwise.

    A timestamp must carry a time zone (a naive one fails TYPE, as its text would) and be in
    microseconds (the bronze unit: milli- and nanoseconds are rendered and parsed as text, so
    no conversion of units can overflow or round). It keeps its zone: the quarantine shows it
    as delivered, the row checks convert it to UTC. Floats of an ``int`` column are kept when
    every value is whole (:func:`_as_text` renders them value by value otherwise).
    """
    dt = s.dtype
    if kind == NATIVE_INT and dt in _EXACT_INTS:
        return s.cast(pl.Int64)
    if kind == NATIVE_INT and dt.is_float() and _whole(s).fill_null(True).all():
        return s.cast(pl.Int64)
    if kind == NATIVE_DATE and dt == pl.Date:
        return s
    if (
        kind == NATIVE_TIMESTAMP
        and isinstance(dt, pl.Datetime)
        and dt.time_zone is not None
        and dt.time_unit == "us"
    ):
        return s
    return None


def as_text(frame: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """``frame`` with those of ``columns`` kept native by :func:`read_parquet_part` rendered as
    the text a csv part would carry (what the quarantine shows)."""
    return frame.with_columns(
        [
            _as_text(frame[c], "frame")
            for c in columns
            if c in frame.columns and frame.schema[c] != pl.Utf8
        ]
    )


def _polars_readable(column: pa.ChunkedArray) -> pa.Array:
    """One parquet column as an Arrow array polars takes: decimals wider than 38 digits
    (``decimal256``, which pyarrow gives any parquet DECIMAL of precision 39 or more) are
    rendered as text by pyarrow, as a csv part would carry them."""
    if pa.types.is_decimal256(column.type):
        column = column.cast(pa.string())
    return column.combine_chunks()


def read_parquet_part(
    name: str,
    data: bytes,
    columns: Sequence[str] | None = None,
    native: Mapping[str, str] | None = None,
) -> Part:
    """Read one parquet part; the ``columns`` asked for are rendered as text, except those
    ``native`` declares (column -> :data:`NATIVE_INT`, :data:`NATIVE_DATE` or
    :data:`NATIVE_TIMESTAMP`) whose parquet type holds exactly such values
    (:func:`_kept_native`)."""
    try:
        # ParquetFile, not read_table: read_table goes through pyarrow.dataset, whose import
        # (pandas with it) cost the night's ingestion 0.3 s.
        table = pq.ParquetFile(pa.BufferReader(data)).read()
    except Exception as exc:  # any unreadable file: pyarrow raises several types
        raise _decode_error(name, f"not a readable parquet file ({type(exc).__name__})") from None
    names = tuple(table.column_names)
    _twice(name, names, columns, "the file")
    keep = [(i, c) for i, c in enumerate(names) if columns is None or c in columns]
    series = []
    for i, c in keep:
        try:
            values = pl.from_arrow(_polars_readable(table.column(i)), schema=None)
        # pl.exceptions.PanicException is not an Exception: one unreadable column must reject
        # its batch, never end the night's ingestion.
        except (Exception, pl.exceptions.PanicException):
            raise _decode_error(name, f"column {c!r} has a type the dam cannot read") from None
        assert isinstance(values, pl.Series)
        kind = (native or {}).get(c)
        kept = _kept_native(values.alias(c), kind)
        series.append(kept if kept is not None else _as_text(values.alias(c), name, kind))
    frame = _empty_to_null(pl.DataFrame(series)) if series else pl.DataFrame()
    return Part(name, names, frame, table.num_rows)


def read_part(
    name: str,
    data: bytes,
    fmt: str,
    encoding: str | None,
    columns: Sequence[str] | None = None,
    native: Mapping[str, str] | None = None,
) -> Part:
    if fmt == "csv":
        return read_csv_part(name, data, encoding or "utf-8", columns)
    if fmt == "parquet":
        return read_parquet_part(name, data, columns, native)
    raise ValueError(f"unsupported format {fmt!r}")


def combine_parts(parts: Sequence[Part], columns: Sequence[str]) -> pl.DataFrame:
    """One frame of ``columns`` (absent ones null) over the parts, in order, with
    ``_source_file`` and ``_row_number`` (1-based across the parts). A column kept native in
    every part that has it stays native; kept native in some parts only, it is text in all."""
    dtypes: dict[str, pl.DataType] = {}
    for c in columns:
        seen = {p.frame.schema[c] for p in parts if c in p.frame.columns}
        dtypes[c] = seen.pop() if len(seen) == 1 else pl.Utf8()
    frames = []
    for p in parts:
        frame = p.frame.with_columns(
            [
                _as_text(p.frame[c], p.name)
                for c, t in p.frame.schema.items()
                if c in dtypes and t != dtypes[c]
            ]
        )
        base = (
            frame.with_columns(pl.lit(p.name, pl.Utf8).alias(SOURCE_FILE))
            if frame.width
            else pl.DataFrame({SOURCE_FILE: pl.Series([p.name] * p.rows, dtype=pl.Utf8)})
        )
        frames.append(
            base.select(
                [
                    pl.col(c) if c in base.columns else pl.lit(None, dtypes[c]).alias(c)
                    for c in columns
                ]
                + [pl.col(SOURCE_FILE)]
            )
        )
    if frames:
        df = pl.concat(frames, how="vertical")
    else:
        df = pl.DataFrame(schema={**{c: pl.Utf8 for c in columns}, SOURCE_FILE: pl.Utf8})
    return df.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW_NUMBER))
