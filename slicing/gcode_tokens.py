"""Vectorised G-code tokeniser: every line's command word, its axis parameters and its comment, as arrays.

Works on the raw bytes with numpy (no per-character Python loop) so a 300k-line file tokenises in a
fraction of a second. A word is a letter followed by a number (``X12.5``, ``G1``, ``e-.8``); comments start
at ``;`` and run to the end of the line. Line numbers (``N123``) and checksums (``*71``) are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PARAM_LETTERS = "XYZEFIJR"
"""Parameter columns of TokenTable.params, in this order."""

_NUM_WIDTH = 16  # longest number text kept; longer digit runs are truncated (never seen in G-code)

_KEEP_BYTES = np.zeros((_NUM_WIDTH + 1, _NUM_WIDTH // 8), dtype=np.uint64)
for _w in range(_NUM_WIDTH + 1):
    _keep = np.zeros(_NUM_WIDTH, dtype=np.uint8)
    _keep[:_w] = 0xFF
    _KEEP_BYTES[_w] = _keep.view("<u8")

_IS_LETTER = np.zeros(256, dtype=bool)
_IS_LETTER[ord("A"):ord("Z") + 1] = True
_IS_LETTER[ord("a"):ord("z") + 1] = True
_IS_NUM = np.zeros(256, dtype=bool)
for _c in b"0123456789.-+":
    _IS_NUM[_c] = True
_PARAM_COLUMN = np.full(256, -1, dtype=np.int8)
for _i, _letter in enumerate(PARAM_LETTERS):
    _PARAM_COLUMN[ord(_letter)] = _i
    _PARAM_COLUMN[ord(_letter.lower())] = _i


@dataclass(frozen=True)
class TokenTable:
    """Per-line tokens of a G-code text.

    letter: (L,) uint8 upper-case command letter of each line (b'G', b'M', b'T') or 0 when the line has none.
    number: (L,) int32 command number (``G1`` → 1), -1 when the line has no command.
    params: (L, 8) float64 values of X Y Z E F I J R on that line, NaN where the word is absent;
            a letter given without a number (``G28 X``) is recorded as 0.
    comments: (line index, comment text without ``;`` and surrounding blanks) for every comment.
    """

    n_lines: int
    letter: np.ndarray
    number: np.ndarray
    params: np.ndarray
    comments: list[tuple[int, str]]


def _parse_numbers(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Float value of each buf[start:end] run (NaN when empty or not a number), vectorised."""
    out = np.full(start.shape[0], np.nan)
    width = np.minimum(end - start, _NUM_WIDTH)
    ok = width > 0
    if not ok.any():
        return out
    s, w = start[ok], width[ok]
    padded = np.concatenate([buf, np.zeros(_NUM_WIDTH, dtype=np.uint8)])
    mat = np.lib.stride_tricks.sliding_window_view(padded, _NUM_WIDTH)[s]
    words = mat.view("<u8")  # two little-endian 8-byte words per number: clear the bytes past its end
    words &= _KEEP_BYTES[w]
    text = mat.view(f"S{_NUM_WIDTH}").ravel()
    try:
        out[ok] = text.astype(np.float64)
    except ValueError:  # a malformed number such as "1.2.3" or "-": convert one by one, NaN for the bad ones
        vals = np.empty(text.shape[0])
        for i, t in enumerate(text.tolist()):
            try:
                vals[i] = float(t)
            except ValueError:
                vals[i] = np.nan
        out[ok] = vals
    return out


def tokenize(data: bytes) -> TokenTable:
    """Split G-code bytes into per-line command words, parameter values and comments."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    n_lines = int(nl.shape[0]) + (1 if (buf.shape[0] and buf[-1] != 10) else 0)
    line_end = np.append(nl, buf.shape[0])[:n_lines] if n_lines else np.zeros(0, dtype=np.int64)
    # code ends at the first ';' of the line
    semis = np.flatnonzero(buf == 59)
    code_end = line_end.copy()
    comments: list[tuple[int, str]] = []
    if semis.shape[0]:
        semi_line = np.searchsorted(nl, semis)
        first = np.ones(semis.shape[0], dtype=bool)
        first[1:] = semi_line[1:] != semi_line[:-1]
        fl, fp = semi_line[first], semis[first]
        code_end[fl] = fp
        for ln, pos, end in zip(fl.tolist(), fp.tolist(), line_end[fl].tolist()):
            comments.append((ln, data[pos + 1:end].decode("utf-8", "replace").strip()))
    # words: a letter inside the code part of its line
    letters = np.flatnonzero(_IS_LETTER[buf])
    word_line = np.searchsorted(nl, letters)
    in_code = letters < code_end[word_line] if letters.shape[0] else np.zeros(0, dtype=bool)
    letters, word_line = letters[in_code], word_line[in_code]
    non_num = np.flatnonzero(~_IS_NUM[buf])
    start = letters + 1
    nxt = np.searchsorted(non_num, start)
    end = np.where(nxt < non_num.shape[0], non_num[np.minimum(nxt, max(non_num.shape[0] - 1, 0))],
                   buf.shape[0]) if non_num.shape[0] else np.full(start.shape[0], buf.shape[0])
    values = _parse_numbers(buf, start, end)
    upper = buf[letters] & 0xDF
    # command = first word of its line that is not a line number (N)
    letter = np.zeros(n_lines, dtype=np.uint8)
    number = np.full(n_lines, -1, dtype=np.int32)
    cand = upper != ord("N")
    cidx = np.flatnonzero(cand)
    is_cmd = np.zeros(letters.shape[0], dtype=bool)
    if cidx.shape[0]:
        cl = word_line[cidx]
        firstc = np.ones(cidx.shape[0], dtype=bool)
        firstc[1:] = cl[1:] != cl[:-1]
        cmd = cidx[firstc]
        is_cmd[cmd] = True
        good = np.isin(upper[cmd], np.frombuffer(b"GMT", dtype=np.uint8)) & np.isfinite(values[cmd])
        cmd = cmd[good]
        letter[word_line[cmd]] = upper[cmd]
        number[word_line[cmd]] = values[cmd].astype(np.int32)
    params = np.full((n_lines, len(PARAM_LETTERS)), np.nan)
    col = _PARAM_COLUMN[buf[letters]]
    pw = (~is_cmd) & (col >= 0)
    pv = values[pw]
    params[word_line[pw], col[pw]] = np.where(np.isnan(pv), 0.0, pv)
    return TokenTable(n_lines, letter, number, params, comments)
