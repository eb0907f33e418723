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
_PARAM_COLUMN = np.full(256, -1, dtype=np.int8)
for _i, _letter in enumerate(PARAM_LETTERS):
    _PARAM_COLUMN[ord(_letter)] = _i
    _PARAM_COLUMN[ord(_letter.lower())] = _i


@dataclass(frozen=True)
class TokenTable:
    """Per-line tokens of a G-code text.

    letter: (L,) uint8 upper-case command letter of each line (b'G', b'M', b'T') or 0 when the line has none.
    number: (L,) int32 command number (``G1`` → 1), -1 when the line has no command.
    params: (L, 8) float64 values of X Y Z E F I J R of G commands, NaN where the word is absent or its
            number malformed; a letter given without a number (``G28 X``) is recorded as 0.
    comments: (line index, comment text without ``;`` and surrounding blanks) for every comment.
    """

    n_lines: int
    letter: np.ndarray
    number: np.ndarray
    params: np.ndarray
    comments: list[tuple[int, str]]


_CHUNK = 8192


def _to_float(text: np.ndarray, bare: float) -> np.ndarray:
    """Float of each fixed-width byte string; `bare` for blank ones, NaN for malformed ones ("1.2.3", "-")."""
    try:
        return text.astype(np.float64)
    except ValueError:  # convert in chunks so one bad number costs one chunk, not the whole file
        out = np.empty(text.shape[0])
        for a in range(0, text.shape[0], _CHUNK):
            part = text[a:a + _CHUNK]
            try:
                out[a:a + _CHUNK] = part.astype(np.float64)
            except ValueError:
                for i, t in enumerate(part.tolist()):
                    try:
                        out[a + i] = float(t)
                    except ValueError:
                        out[a + i] = bare if not t.strip() else np.nan
        return out


def _parse_numbers(padded: np.ndarray, start: np.ndarray, end: np.ndarray, bare: float) -> np.ndarray:
    """Float value of each padded[start:end] run, vectorised: `bare` when blank, NaN when not a number.

    padded is the text followed by _NUM_WIDTH zero bytes; a run may carry trailing blanks.
    """
    out = np.full(start.shape[0], bare)
    width = np.minimum(end - start, _NUM_WIDTH)
    ok = width > 0
    if not ok.any():
        return out
    s, w = start[ok], width[ok]
    mat = np.lib.stride_tricks.sliding_window_view(padded, _NUM_WIDTH)[s]
    words = mat.view("<u8")  # two little-endian 8-byte words per number: clear the bytes past its end
    words &= _KEEP_BYTES[w]
    out[ok] = _to_float(mat.view(f"S{_NUM_WIDTH}").ravel(), bare)
    return out


def _first_per_line(pos: np.ndarray, nl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(line, position) of the first of the sorted positions on each line that has one."""
    line = np.searchsorted(nl, pos)
    first = np.ones(pos.shape[0], dtype=bool)
    first[1:] = line[1:] != line[:-1]
    return line[first], pos[first]


def tokenize(data: bytes) -> TokenTable:
    """Split G-code bytes into per-line command words, parameter values and comments."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    n_lines = int(nl.shape[0]) + (1 if (buf.shape[0] and buf[-1] != 10) else 0)
    line_end = np.append(nl, buf.shape[0])[:n_lines]
    # code ends at the first ';' (comment) or '*' (checksum) of the line
    code_end = line_end.copy()
    comments: list[tuple[int, str]] = []
    semi_line, semi_pos = _first_per_line(np.flatnonzero(buf == 59), nl)
    if semi_line.shape[0]:
        code_end[semi_line] = semi_pos
        for ln, pos, end in zip(semi_line.tolist(), semi_pos.tolist(), line_end[semi_line].tolist()):
            comments.append((ln, data[pos + 1:end].decode("utf-8", "replace").strip()))
    star_line, star_pos = _first_per_line(np.flatnonzero(buf == 42), nl)
    if star_line.shape[0]:
        code_end[star_line] = np.minimum(code_end[star_line], star_pos)
    # words: a letter inside the code part of its line; its number runs to the next word or the code end
    letters = np.flatnonzero(_IS_LETTER[buf])
    word_line = np.searchsorted(nl, letters)
    in_code = letters < code_end[word_line]
    letters, word_line = letters[in_code], word_line[in_code]
    end = code_end[word_line]
    same = word_line[1:] == word_line[:-1]
    end[:-1] = np.where(same, letters[1:], end[:-1])
    start = letters + 1
    padded = np.concatenate([buf, np.zeros(_NUM_WIDTH, dtype=np.uint8)])
    upper = buf[letters] & 0xDF
    # command = first word of its line that is not a line number (N)
    letter = np.zeros(n_lines, dtype=np.uint8)
    number = np.full(n_lines, -1, dtype=np.int32)
    cidx = np.flatnonzero(upper != ord("N"))
    is_cmd = np.zeros(letters.shape[0], dtype=bool)
    if cidx.shape[0]:
        cl = word_line[cidx]
        firstc = np.ones(cidx.shape[0], dtype=bool)
        firstc[1:] = cl[1:] != cl[:-1]
        cmd = cidx[firstc]
        is_cmd[cmd] = True
        cval = _parse_numbers(padded, start[cmd], end[cmd], bare=np.nan)
        good = np.isin(upper[cmd], np.frombuffer(b"GMT", dtype=np.uint8)) & np.isfinite(cval)
        letter[word_line[cmd[good]]] = upper[cmd[good]]
        number[word_line[cmd[good]]] = cval[good].astype(np.int32)
    # parameters of G commands only (M117 text and the like is never parsed)
    params = np.full((n_lines, len(PARAM_LETTERS)), np.nan)
    col = _PARAM_COLUMN[buf[letters]]
    pw = np.flatnonzero((~is_cmd) & (col >= 0) & (letter[word_line] == ord("G")))
    params[word_line[pw], col[pw]] = _parse_numbers(padded, start[pw], end[pw], bare=0.0)
    return TokenTable(n_lines, letter, number, params, comments)
