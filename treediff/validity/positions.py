"""Line/column ↔ byte-offset arithmetic over UTF-8 source bytes.

Every position treediff.validity reports uses 1-based lines, 1-based columns counted
in characters (Unicode code points, as editors show them) and 0-based, half-open
byte offsets.  Compilers disagree on units, so each front end says which it emits
(``column_unit = "char" | "byte"`` in ``[compiler]``) and is mapped here.
"""

from __future__ import annotations

import bisect

__all__ = ["LineIndex"]


class LineIndex:
    """Byte offsets of line starts, for fast position conversion.

    >>> idx = LineIndex("a = 'é'\\nb = 1\\n".encode())
    >>> idx.to_byte(1, 7), idx.to_byte(2, 1), idx.to_point(9)
    (7, 9, (2, 1))
    """

    __slots__ = ("source", "starts")

    def __init__(self, source: bytes) -> None:
        self.source = source
        starts = [0]
        find = source.find
        i = find(b"\n")
        while i != -1:
            starts.append(i + 1)
            i = find(b"\n", i + 1)
        self.starts = starts

    @property
    def num_lines(self) -> int:
        """Lines as an editor counts them (a trailing newline opens no new line)."""
        n = len(self.starts)
        if n > 1 and self.starts[-1] == len(self.source):
            n -= 1
        return max(n, 1)

    def _line_bytes(self, row: int) -> bytes:
        start = self.starts[row]
        end = self.starts[row + 1] - 1 if row + 1 < len(self.starts) else len(self.source)
        return self.source[start:end]

    def to_byte(self, line: int | None, col: int | None = None, *, unit: str = "char") -> int:
        """Byte offset of a 1-based (line, column); out-of-range values are clamped."""
        if line is None or line < 1:
            return 0
        row = line - 1
        if row >= len(self.starts):
            return len(self.source)
        start = self.starts[row]
        if col is None or col <= 1:
            return start
        text = self._line_bytes(row)
        if unit == "byte":
            return start + min(col - 1, len(text))
        prefix = text.decode("utf-8", "replace")[: col - 1]
        return start + min(len(prefix.encode("utf-8", "surrogatepass")), len(text))

    def to_point(self, offset: int) -> tuple[int, int]:
        """1-based (line, character column) of a byte offset."""
        offset = max(0, min(offset, len(self.source)))
        row = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[row]
        col = len(self.source[start:offset].decode("utf-8", "replace")) + 1
        return row + 1, col
