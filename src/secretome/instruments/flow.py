"""Flow-cytometry list-mode files: FCS 2.0, 3.0 and 3.1, and Beckman LMD containers.

Keywords (HEADER and TEXT) are read with ``flowio``; spillover matrices are parsed and applied with
``flowutils``. The DATA segment is read here, straight from the file's bytes with NumPy (one view, one
conversion to native byte order), because flowio's own reader goes through Python arrays and is about ten
times slower on large files (``benchmarks/bench_fcs.py``). This reader also handles what trips flowio up on
real files: big-endian data, mixed integer widths (8/16/32/64 bits per channel) with ``$PnR`` bit masks,
several data sets chained by ``$NEXTDATA``, HEADER and TEXT disagreeing on the DATA offsets, and an
``$ENDDATA`` one byte too far. A truncated file is refused with the byte offset where its DATA should end.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from secretome.analysis.flow.gating import GatingResult, GatingStrategy, Read, apply_strategy
from secretome.analysis.flow.scale import ChannelScale
from secretome.instruments.formats import FileFormat
from secretome.instruments.model import (
    NUL,
    EventMatrix,
    InstrumentReading,
    Measurement,
    ReaderError,
    without_nul,
)

FAMILY = "flow"
FCS_READER_VERSION = "1.1"
_VERSIONS = (b"FCS2.0", b"FCS3.0", b"FCS3.1")
_MAX_DATA_SETS = 64
_BYTE_ORDERS = {"1,2,3,4": "<", "1,2": "<", "1": "<", "4,3,2,1": ">", "2,1": ">"}


@dataclass(frozen=True)
class FcsDataSet:
    """One data set of an FCS file: its keywords and its events (raw channel values, native byte order).

    ``events`` is a read-only view of the file's bytes where they were already native and needed no
    masking, otherwise one converted copy.
    """

    offset: int
    version: str
    keywords: Mapping[str, str]
    channels: tuple[str, ...]
    labels: tuple[str, ...]
    events: npt.NDArray[Any] = field(repr=False)
    spillover: tuple[tuple[str, ...], npt.NDArray[np.float64]] | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def event_count(self) -> int:
        return int(self.events.shape[0])

    def scaled(self) -> npt.NDArray[np.float64]:
        """Channel values on the FCS scale, as the FCS 3.1 standard defines them (float64, a new array).

        * float data as stored; integer data already masked to ceil(log2 ``$PnR``) bits at read;
        * log-amplified channels (``$PnE`` = f1,f2 with f1 > 0): 10^(f1 x / ``$PnR``) f2 (f2 = 0 read as 1);
        * linear channels with ``$PnG`` != 1: divided by the gain;
        * the time channel: multiplied by ``$TIMESTEP`` (a value that is not a number is ignored: the read
          adds a warning).
        """
        values = np.array(self.events, dtype=np.float64)
        for index, scale in enumerate(self.scaling()):
            if not scale.identity:
                scale.apply(values[:, index])
        return values

    def scaling(self) -> tuple[ChannelScale, ...]:
        """Per channel, how :meth:`scaled` turns ``events`` into FCS scale values.

        Gating takes ``events`` with these (``apply_strategy(..., scaling=...)``) to scale only what it reads.
        """
        scales = []
        for index, name in enumerate(self.channels, start=1):
            if name.lower() == "time":
                scales.append(ChannelScale(factor=_float(self.keywords.get("timestep", ""), 1.0)))
                continue
            amplification = [*self.keywords.get(f"p{index}e", "0,0").split(","), "0", "0"]
            decades, log_zero = _float(amplification[0], 0.0), _float(amplification[1], 0.0)
            if decades > 0:
                limit = _float(self.keywords.get(f"p{index}r", ""), 0.0)
                # The standard's value for an invalid log_zero of 0 is 1.
                scales.append(
                    ChannelScale(decades=decades, limit=limit, log_zero=log_zero or 1.0)
                    if limit > 0
                    else ChannelScale()
                )
                continue
            gain = _float(self.keywords.get(f"p{index}g", ""), 1.0)
            scales.append(ChannelScale(gain=gain) if gain not in (0.0, 1.0) else ChannelScale())
        return tuple(scales)

    def gate(self, strategy: GatingStrategy, reads: Sequence[Read] = ()) -> GatingResult:
        """Gate the events as stored, with the file's spillover and :meth:`scaling`.

        Only the columns and events the gates (and ``reads``) need are scaled: no scaled copy of the data
        set is made. See :func:`secretome.analysis.flow.gating.apply_strategy`.
        """
        return apply_strategy(
            strategy,
            self.events,
            self.channels,
            self.spillover,
            self.event_count,
            scaling=self.scaling(),
            reads=reads,
        )

    def compensated(self) -> npt.NDArray[np.float64]:
        """The events with the file's spillover matrix applied (``flowutils``); as read when there is none."""
        from flowutils.compensate import compensate

        values = np.asarray(self.events, dtype=np.float64)
        if self.spillover is None:
            return values
        names, matrix = self.spillover
        try:
            indices = [self.channels.index(name) for name in names]
        except ValueError:
            return values
        result: npt.NDArray[np.float64] = compensate(values, matrix, indices)
        return result


def _float(text: str, default: float) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        return default
    return value if math.isfinite(value) else default


def _fail(filename: str, problem: str, offset: int | None = None) -> ReaderError:
    return ReaderError(filename, problem, offset=offset)


def _header_int(content: bytes, start: int, stop: int) -> int:
    text = content[start:stop].strip()
    return int(text) if text else 0


def _keywords_for_message(content: bytes, base: int) -> dict[str, str]:
    """TEXT keywords read leniently, for messages about files flowio refuses (a truncated file)."""
    try:
        start, stop = _header_int(content, base + 10, base + 18), _header_int(content, base + 18, base + 26)
        text = content[base + start : base + stop + 1].decode("latin-1")
    except ValueError:
        return {}
    if len(text) < 2:
        return {}
    delimiter = text[0]
    parts = text[1:].split(delimiter)
    return {parts[i].lstrip("$").lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def _text_keywords(content: bytes, base: int, filename: str) -> Any:
    """flowio's view of the HEADER and TEXT of the data set at ``base`` (no event data)."""
    import flowio

    if content[base : base + 6] not in _VERSIONS:
        found = content[base : base + 6]
        raise _fail(filename, f"not an FCS data set (starts with {found!r}, expected FCS2.0/3.0/3.1)", base)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return flowio.FlowData(
                io.BytesIO(content),
                ignore_offset_error=True,
                ignore_offset_discrepancy=True,
                only_text=True,
                nextdata_offset=base,
            )
    except Exception as exc:  # flowio raises many kinds on damaged bytes; all mean "cannot read this file"
        keywords = _keywords_for_message(content, base)
        end = keywords.get("enddata", "").strip()
        if "greater than file size" in str(exc) and end.isdigit():
            cytometer = keywords.get("cyt", "").strip()
            raise _fail(
                filename,
                f"truncated: the DATA segment should end at byte {int(end):,} but the file has "
                f"{len(content):,} bytes ({keywords.get('tot', '?').strip()} events x {keywords.get('par', '?').strip()} "
                f"channels announced{', cytometer ' + cytometer if cytometer else ''})",
                len(content),
            ) from None
        raise _fail(filename, f"unreadable FCS HEADER/TEXT: {exc}", base) from None


def _without_nul(keywords: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The TEXT keywords with NUL characters removed, and the keywords that held them.

    Some cytometers pad keyword values with NUL. No keyword means anything by a NUL, and a database (PostgreSQL)
    cannot hold one in text: :func:`~secretome.instruments.model.without_nul`.
    """
    cleaned: dict[str, str] = {}
    touched: list[str] = []
    for key, value in keywords.items():
        if NUL in key or NUL in value:
            key, value = without_nul(key), without_nul(value)
            touched.append("$" + key.upper())
        cleaned[key] = value
    return cleaned, touched


def _row_dtype(
    keywords: Mapping[str, str], channels: int, filename: str, base: int
) -> tuple[np.dtype[Any], list[int]]:
    """The NumPy dtype of one event (one row) and the per-channel bit widths."""
    datatype = keywords.get("datatype", "").strip().upper()
    order = _BYTE_ORDERS.get(keywords.get("byteord", "").strip())
    if order is None:
        raise _fail(filename, f"unsupported byte order $BYTEORD={keywords.get('byteord')!r}", base)
    widths = []
    for index in range(1, channels + 1):
        raw = keywords.get(f"p{index}b", "").strip()
        if not raw.isdigit():
            raise _fail(filename, f"$P{index}B={raw!r} is not a bit width", base)
        widths.append(int(raw))
    if datatype == "F":
        return np.dtype(f"{order}f4"), widths
    if datatype == "D":
        return np.dtype(f"{order}f8"), widths
    if datatype != "I":
        raise _fail(
            filename, f"$DATATYPE={datatype!r} is not supported (only I, F and D list-mode data)", base
        )
    odd = sorted({w for w in widths if w not in (8, 16, 32, 64)})
    if odd:
        raise _fail(filename, f"integer widths {odd} bits are not whole bytes of 8/16/32/64 bits", base)
    if len(set(widths)) == 1:
        return np.dtype(f"{order}u{widths[0] // 8}"), widths
    fields = [(f"c{i}", f"{order}u{w // 8}") for i, w in enumerate(widths)]
    return np.dtype(fields), widths


def _data_bounds(
    flow: Any, keywords: Mapping[str, str], expected: int, base: int, size: int, filename: str
) -> tuple[int, list[str]]:
    """Absolute start of DATA, and notes on any offset quirk that was worked around."""
    notes: list[str] = []
    header_start, header_stop = int(flow.header["data_start"]), int(flow.header["data_stop"])
    candidates = [(header_start, header_stop)]
    text_start, text_stop = keywords.get("begindata", "").strip(), keywords.get("enddata", "").strip()
    if flow.version != "2.0" and text_start.isdigit() and text_stop.isdigit():
        text_pair = (int(text_start), int(text_stop))
        # FCS 3.x: TEXT is authoritative (HEADER holds zeros beyond 99,999,999 bytes).
        candidates = [text_pair, *([(header_start, header_stop)] if header_start else [])]
        if header_start and text_pair != (header_start, header_stop):
            notes.append(
                f"HEADER and TEXT disagree on the DATA offsets ({header_start}-{header_stop} vs "
                f"{text_pair[0]}-{text_pair[1]}); used the pair that fits {expected} bytes of events"
            )
    for start, stop in candidates:
        if stop - start + 1 in (expected, expected + 1) and base + start + expected <= size:
            if stop - start + 1 == expected + 1:
                notes.append("$ENDDATA points one byte past the DATA segment (a common writer quirk)")
            return base + start, notes
    start, stop = candidates[0]
    if base + start + expected > size:
        raise _fail(
            filename,
            f"truncated: {expected:,} bytes of events should end at byte {base + start + expected:,} "
            f"but the file has {size:,} bytes",
            size,
        )
    notes.append(
        f"the DATA offsets ({start}-{stop}) do not match $TOT x $PAR; read {expected} bytes from {start}"
    )
    return base + start, notes


_REPLACEMENT = b"\xef\xbf\xbd"
_LATIN1_AS_UTF8 = re.compile(rb"[\xc2\xc3][\x80-\xbf]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_WINDOW = 1 << 16
_WINDOWS = 16


def _windows(start: int, expected: int) -> list[tuple[int, int]]:
    """The byte ranges of the DATA segment the text-conversion test reads.

    A text conversion rewrites every byte it cannot keep, so its marks run through the whole segment: up
    to 1 MiB the test reads all of it, above it 16 evenly spaced 64 KiB windows (the first at the start,
    the last at the end), which keeps the test at a few milliseconds on a 100 MB file.
    """
    if expected <= _WINDOW * _WINDOWS:
        return [(start, start + expected)]
    step = (expected - _WINDOW) // (_WINDOWS - 1)
    return [(start + i * step, start + i * step + _WINDOW) for i in range(_WINDOWS)]


def _text_conversion(content: bytes, start: int, expected: int) -> str | None:
    """Why the DATA segment looks like binary passed through a text conversion, or None.

    Event bytes are binary: a run through a text decoder leaves marks no real instrument writes (U+FFFD
    replacement sequences, every high byte part of a Latin-1-to-UTF-8 pair, every LF preceded by CR).
    Each test asks for many marks, far beyond what random event values produce (one U+FFFD sequence in
    16 MB by chance). Large segments are judged on :func:`_windows`.
    """
    windows = _windows(start, min(expected, max(len(content) - start, 0)))
    read = sum(stop - begin for begin, stop in windows)
    if not read:
        return None
    replaced = sum(content.count(_REPLACEMENT, begin, stop) for begin, stop in windows)
    if replaced >= 3 and replaced > 100 * read / 2**24:
        return (
            f"the DATA segment holds {replaced} U+FFFD replacement sequences: the file was decoded as text "
            "and saved again, so its event values are lost"
        )
    high = 0
    leads = 0
    for begin, stop in windows:
        region = content[begin:stop]
        high += len(region) - len(region.translate(None, _HIGH_BYTES))
        leads += region.count(b"\xc2") + region.count(b"\xc3")
    # A window may cut one pair at each end; and every pair starts with 0xC2 or 0xC3, so counting those
    # first spares the pattern search on ordinary binary events.
    slack = 2 + (2 * len(windows) if len(windows) > 1 else 0)
    if high >= 64 and 2 * leads >= high - slack:
        pairs = sum(len(_LATIN1_AS_UTF8.findall(content, begin, stop)) for begin, stop in windows)
        if 2 * pairs >= high - slack:
            return (
                f"every one of the {high} high bytes of the DATA segment is part of a Latin-1-to-UTF-8 "
                "pair: the file was re-encoded as text, so its event values are wrong"
            )
    if len(content) <= start + expected + 8:
        return None
    # A CR just before a window still pairs with the window's first LF.
    line_feeds = sum(content.count(b"\n", begin, stop) for begin, stop in windows)
    crlf = sum(content.count(b"\r\n", max(begin - 1, start), stop) for begin, stop in windows)
    if line_feeds >= 32 and crlf == line_feeds:
        return (
            f"all {line_feeds} line feeds of the DATA segment follow a carriage return and the file is longer "
            "than its segments: its line ends were converted as text, so its event values are wrong"
        )
    return None


def _spillover(
    keywords: Mapping[str, str], channels: tuple[str, ...]
) -> tuple[tuple[str, ...], npt.NDArray[np.float64]] | None:
    from flowutils.compensate import get_spill

    for key in ("spillover", "spill", "comp"):
        if key in keywords and keywords[key].strip():
            try:
                matrix, names = get_spill(keywords[key])
            except (ValueError, IndexError):
                return None
            return tuple(str(n) for n in names), np.asarray(matrix, dtype=np.float64)
    return None


def _events(
    content: bytes,
    start: int,
    row: np.dtype[Any],
    widths: list[int],
    count: int,
    channels: int,
    keywords: Mapping[str, str],
) -> npt.NDArray[Any]:
    if row.fields is None:
        raw = np.frombuffer(content, dtype=row, count=count * channels, offset=start).reshape(count, channels)
        events: npt.NDArray[Any] = raw if row.isnative else raw.astype(row.newbyteorder("="))
    else:
        table = np.frombuffer(content, dtype=row, count=count, offset=start)
        events = np.empty((count, channels), dtype=np.uint64 if max(widths) > 32 else np.uint32)
        for index, name in enumerate(row.names or ()):
            events[:, index] = table[name]
    if row.kind == "u" or row.fields is not None:
        # Integer data: bits above $PnR (rounded up to a power of two) are not part of the value.
        masks = []
        for index, width in enumerate(widths, start=1):
            try:
                limit = int(float(keywords.get(f"p{index}r", "0")))
            except ValueError:
                limit = 0
            power = 1 << max(limit - 1, 0).bit_length() if limit > 0 else 1 << width
            masks.append(power - 1 if power < (1 << width) else (1 << width) - 1)
        if any(m != (1 << w) - 1 for m, w in zip(masks, widths, strict=True)):
            if not events.flags.writeable:
                events = events.copy()
            np.bitwise_and(events, np.asarray(masks, dtype=events.dtype), out=events)
    return events


def read_fcs_data_sets(content: bytes, filename: str) -> list[FcsDataSet]:
    """Every data set of an FCS/LMD file, following ``$NEXTDATA``."""
    data_sets: list[FcsDataSet] = []
    base = 0
    seen: set[int] = set()
    while True:
        if base in seen or len(data_sets) >= _MAX_DATA_SETS:
            raise _fail(filename, "the $NEXTDATA chain loops", base)
        seen.add(base)
        flow = _text_keywords(content, base, filename)
        keywords, nul_keywords = _without_nul({str(k): str(v) for k, v in flow.text.items()})
        try:
            channels = int(keywords["par"].strip())
            count = int(keywords["tot"].strip())
        except (KeyError, ValueError):
            raise _fail(filename, "the TEXT segment lacks a valid $PAR or $TOT", base) from None
        if channels <= 0 or count < 0:
            raise _fail(filename, f"$PAR={channels} and $TOT={count} describe no events", base)
        if keywords.get("mode", "L").strip().upper() != "L":
            raise _fail(filename, "only list-mode ($MODE=L) data are supported", base)
        row, widths = _row_dtype(keywords, channels, filename, base)
        row_bytes = row.itemsize * (1 if row.fields is not None else channels)
        start, notes = _data_bounds(flow, keywords, count * row_bytes, base, len(content), filename)
        converted = _text_conversion(content, start, count * row_bytes)
        if converted is not None:
            raise _fail(filename, converted, start)
        names = tuple(str(keywords.get(f"p{i}n", f"P{i}")).strip() for i in range(1, channels + 1))
        labels = tuple(str(keywords.get(f"p{i}s", "")).strip() for i in range(1, channels + 1))
        spillover = _spillover(keywords, names)
        if spillover is None and any(keywords.get(k, "").strip() for k in ("spillover", "spill", "comp")):
            notes.append("the spillover keyword holds no usable matrix; events are not compensated")
        timestep = keywords.get("timestep", "").strip()
        if timestep and math.isnan(_float(timestep, math.nan)):
            notes.append(f"$TIMESTEP={timestep!r} is not a number: ignored, time left in channel units")
        if nul_keywords:
            notes.append(
                f"NUL characters in keyword(s) {', '.join(nul_keywords)}: trailing ones dropped as padding, "
                "others shown as U+FFFD (the stored raw file keeps its bytes)"
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            notes.append(f"channel names repeat: {', '.join(duplicates)} (numbered in the measurements)")
        data_sets.append(
            FcsDataSet(
                offset=base,
                version=str(flow.version),
                keywords=keywords,
                channels=names,
                labels=labels,
                events=_events(content, start, row, widths, count, channels, keywords),
                spillover=spillover,
                warnings=tuple(notes),
            )
        )
        following = keywords.get("nextdata", "0").strip()
        step = int(following) if following.isdigit() else 0
        if step <= 0:
            return data_sets
        base += step
        if base >= len(content):
            raise _fail(filename, f"$NEXTDATA points past the end of the file (to byte {base:,})", base)


def _unique(names: tuple[str, ...]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def read_fcs(content: bytes, filename: str) -> InstrumentReading:
    """Read an FCS or LMD file: per data set, the event count and each channel's median."""
    data_sets = read_fcs_data_sets(content, filename)
    first = data_sets[0].keywords
    measurements: list[Measurement] = []
    notes: list[str] = []
    for number, data_set in enumerate(data_sets, start=1):
        keywords = data_set.keywords
        sample = (keywords.get("src") or keywords.get("smno") or keywords.get("fil") or "").strip()
        well = (keywords.get("well id") or keywords.get("wellid") or "").strip() or f"data set {number}"
        measurements.append(Measurement("event count", float(data_set.event_count), "events", sample, well))
        medians = (
            np.median(data_set.events, axis=0)
            if data_set.event_count
            else np.full(len(data_set.channels), math.nan)
        )
        for channel, median in zip(_unique(data_set.channels), medians, strict=True):
            measurements.append(
                Measurement("median", float(median), "channel value", sample, well, "", channel)
            )
        notes.extend(f"data set {number}: {note}" for note in data_set.warnings)
    metadata: dict[str, Any] = {
        "fcs version": data_sets[0].version,
        "data sets": len(data_sets),
        "events": [d.event_count for d in data_sets],
        "channels": list(data_sets[0].channels),
        "channel labels": list(data_sets[0].labels),
        "datatype": first.get("datatype", "").strip(),
        "byte order": first.get("byteord", "").strip(),
        "spillover": list(data_sets[0].spillover[0]) if data_sets[0].spillover else [],
    }
    for key, label in (
        ("date", "date"),
        ("btim", "start"),
        ("etim", "end"),
        ("fil", "file"),
        ("src", "source"),
        ("op", "operator"),
    ):
        if first.get(key, "").strip():
            metadata[label] = first[key].strip()
    return InstrumentReading(
        filename=filename,
        format="fcs",
        family=FAMILY,
        reader="secretome.instruments.flow.read_fcs (flowio TEXT, NumPy DATA)",
        reader_version=FCS_READER_VERSION,
        instrument=first.get("cyt", "").strip(),
        serial_number=first.get("cytsn", "").strip(),
        software=first.get("creator", "").strip(),
        software_version=data_sets[0].version,
        run_metadata=metadata,
        measurements=tuple(measurements),
        warnings=tuple(notes),
        events=tuple(EventMatrix(d.channels, d.events) for d in data_sets),
    )


def _is_fcs(head: str, content: bytes) -> bool:
    return content[:6] in _VERSIONS


FORMATS = (
    FileFormat(
        "fcs",
        FAMILY,
        "any cytometer (BD, Beckman Coulter, Miltenyi, Sysmex, Stratedigm, Cytek...)",
        "FCS 2.0, 3.0, 3.1 and LMD list-mode files, own DATA reader over flowio keywords",
        _is_fcs,
        read_fcs,
    ),
)
