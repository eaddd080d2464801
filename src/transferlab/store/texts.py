"""Completion texts on disk: zstd frames, with a dictionary per benchmark where one pays; verdicts'
thinking and answer as spans of those texts.

A text shorter than :data:`PLAIN_BELOW` bytes (or one zstd cannot shrink) is kept as plain ``TEXT``;
any other is a zstd frame (level :data:`LEVEL`) in a ``BLOB``. Once a benchmark has
:data:`TRAIN_AT` completions stored, a dictionary is trained on :data:`TRAIN_ON` of them and kept
only if it makes the others at least :data:`MIN_GAIN` smaller; a frame names its dictionary by id
(zstd's own frame header), so reading needs no other column. Measured on 27 KB reasoning texts
(``perf/store_scale.py --only compression``): level 3 alone 3.5x smaller (math) and 2.5x (mixed
prose), with a dictionary 4.1x and 2.9x.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import zstandard as zstd

LEVEL = 3
PLAIN_BELOW = 64  # bytes
TRAIN_AT = 320  # completions of a benchmark before its dictionary is trained
TRAIN_ON = 256  # of them, the rest measure the gain
DICT_BYTES = 112 * 1024
MIN_GAIN = 0.05  # a dictionary is kept when it saves at least 5% on texts it was not trained on
NO_DICTIONARY = "no_dictionary:"  # meta key prefix: training was tried and did not pay

Stored = str | bytes


class Codec:
    """Compresses and decompresses texts, with the dictionaries of one store (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compressors: dict[int, zstd.ZstdCompressor] = {0: zstd.ZstdCompressor(level=LEVEL)}
        self._decompressors: dict[int, zstd.ZstdDecompressor] = {0: zstd.ZstdDecompressor()}
        self.active: dict[str, int] = {}  # benchmark -> dictionary id used for new texts (0: none)

    def add_dictionary(self, dict_id: int, data: bytes) -> None:
        """Make a stored dictionary usable (idempotent)."""
        with self._lock:
            if dict_id not in self._decompressors:
                d = zstd.ZstdCompressionDict(data)
                self._compressors[dict_id] = zstd.ZstdCompressor(level=LEVEL, dict_data=d)
                self._decompressors[dict_id] = zstd.ZstdDecompressor(dict_data=d)

    def knows(self, dict_id: int) -> bool:
        """True when the dictionary ``dict_id`` has been added."""
        return dict_id in self._decompressors

    def encode(self, text: str, dict_id: int = 0) -> Stored:
        """``text`` as stored: a zstd frame, or the text itself when short or incompressible."""
        raw = text.encode()
        if len(raw) < PLAIN_BELOW:
            return text
        with self._lock:
            packed = self._compressors[dict_id].compress(raw)
        return packed if len(packed) < len(raw) else text

    def decode(self, data: Stored) -> str:
        """The text of a stored value (a dictionary it names must have been added)."""
        if isinstance(data, str):
            return data
        dict_id = zstd.get_frame_parameters(data).dict_id
        with self._lock:
            return self._decompressors[dict_id].decompress(data).decode()


def frame_dictionary(data: Stored) -> int:
    """The dictionary id a stored value needs (0: none)."""
    return 0 if isinstance(data, str) else int(zstd.get_frame_parameters(data).dict_id)


def train(texts: list[str]) -> zstd.ZstdCompressionDict | None:
    """A dictionary trained on the first :data:`TRAIN_ON` texts, if it makes the others at least
    :data:`MIN_GAIN` smaller than zstd alone; else None."""
    samples: list[bytes | bytearray | memoryview] = [t.encode() for t in texts]
    fit, held = samples[:TRAIN_ON], samples[TRAIN_ON:]
    if not held:
        return None
    try:
        trained = zstd.train_dictionary(DICT_BYTES, fit, k=1024, d=8, level=LEVEL)
    except zstd.ZstdError:  # too little or too uniform data to train on
        return None
    plain = zstd.ZstdCompressor(level=LEVEL)
    with_dict = zstd.ZstdCompressor(level=LEVEL, dict_data=trained)
    before = sum(len(plain.compress(s)) for s in held)
    after = sum(len(with_dict.compress(s)) for s in held)
    return trained if after <= (1 - MIN_GAIN) * before else None


def load_dictionaries(db: sqlite3.Connection, codec: Codec) -> None:
    """Add the stored dictionaries ``codec`` lacks and choose, per benchmark, the oldest for new texts."""
    for dict_id, benchmark in db.execute("SELECT dict_id, benchmark FROM dictionaries ORDER BY created, dict_id").fetchall():
        if not codec.knows(int(dict_id)):
            row = db.execute("SELECT data FROM dictionaries WHERE dict_id = ?", (dict_id,)).fetchone()
            codec.add_dictionary(int(dict_id), bytes(row[0]))
        codec.active.setdefault(str(benchmark), int(dict_id))


def dictionary_decision(db: sqlite3.Connection, codec: Codec, benchmark: str) -> tuple[str, tuple[object, ...]] | None:
    """Whether ``benchmark`` gets a dictionary, once it has :data:`TRAIN_AT` completions: the SQL
    that records the decision (a trained dictionary, or a mark that none pays), or None when it is
    decided already (``codec.active`` then names it) or too early. Reads only; trains (about a second)."""
    load_dictionaries(db, codec)
    if benchmark in codec.active:
        return None
    if db.execute("SELECT 1 FROM meta WHERE key = ?", (NO_DICTIONARY + benchmark,)).fetchone():
        codec.active[benchmark] = 0
        return None
    if db.execute("SELECT count(*) FROM (SELECT 1 FROM completions WHERE benchmark = ? LIMIT ?)", (benchmark, TRAIN_AT)).fetchone()[0] < TRAIN_AT:
        return None
    rows = db.execute(
        "SELECT t.data FROM completions c JOIN completion_texts t ON t.key = c.key WHERE c.benchmark = ? ORDER BY c.key LIMIT ?", (benchmark, TRAIN_AT)
    ).fetchall()
    trained = train([codec.decode(r[0]) for r in rows])
    if trained is None:
        return "INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (NO_DICTIONARY + benchmark,)
    return "INSERT OR IGNORE INTO dictionaries (dict_id, benchmark, data, created) VALUES (?,?,?,?)", (
        trained.dict_id(),
        benchmark,
        trained.as_bytes(),
        time.time(),
    )


# --- verdicts' parts as spans of the text -------------------------------------------------------------


Span = tuple[int | None, int | None, str | None]


def span(text: str | None, part: str | None) -> Span:
    """(start, end, None) when ``part`` occurs in ``text`` (character offsets), else (None, None,
    ``part``): the part is then kept as it is."""
    if part is None:
        return None, None, None
    at = text.find(part) if text is not None else -1
    return (at, at + len(part), None) if at >= 0 else (None, None, part)


def cut(text: str | None, start: int | None, end: int | None, literal: str | None) -> str | None:
    """The part a span (or its literal) stands for."""
    if start is not None and end is not None and text is not None:
        return text[start:end]
    return literal
