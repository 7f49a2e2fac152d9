r"""Repair as the smallest edit first: point edits at the parser's failure point, then whole statements.

One module per pass: :mod:`~treediff.repairs.sites` (failure point, edit sites), :mod:`~treediff.repairs.model_free`
(edits no model decodes), :mod:`~treediff.repairs.token_edits` (a missing token from the file's statistics),
:mod:`~treediff.repairs.point_edits` (slip after slip), :mod:`~treediff.repairs.statements` (the statement pass),
:mod:`~treediff.repairs.long` (files longer than the model), :mod:`~treediff.repairs.diff` (what changed) and
:mod:`~treediff.repairs.driver` (:func:`repair`, :func:`repair_code`).  The package is ``repairs``, not ``repair``:
``treediff.repair`` is the public function.

Remasking the whole statement around every problem makes the model rewrite code the user wrote
(``x = (1,`` could come back as a string).  Most broken code holds small slips (a missing ``:`` or
``)``, a stray token, an unterminated string), and where to fix one is known: an LR parser detects
an error at the first token that cannot extend a viable prefix (the *failure point*,
:func:`failure_point`).  So, per slip, repair first tries **point edits** there
(:func:`edit_sites`), each one hole decoded left to right under the grammar guard in its
*close-early* mode (a position is left empty as soon as the fixed text after the hole fits):

0. **insert** at the end of the line of an opening bracket the check says was never closed (before a
   trailing ``:`` or ``{``: ``def f(a, b:`` gets its ``)`` there);
1. **insert** up to ``_INSERT`` tokens at the failure point;
2. **replace** the lexical unit at the failure point (a word, a run of blanks, or one character),
   which deletes it when the model writes nothing there;
3. **insert** right after the code before it (a missing closer), and **replace** the unit before it;
4. **replace** each small compiler problem span (checks the grammar does not model: ``f() = 1``);
5. with no model at all, **insert** each fixed-text token tree-sitter's error recovery marks MISSING
   (:func:`parser_inserts`: a ``)``, a ``;``), kept only when the program then passes the full check;
   one separator or operator put in between two tokens, ranked by the file's own statistics
   (:func:`token_inserts`); where the language has no incremental grammar, also the closers the
   indentation asks for, a stray closer or doubled symbol deleted (:func:`layout_edits`); in every brace
   language, the bracket of a block written without indentation (a C++ namespace, :func:`flat_edits`) and
   the bracket a one-line item lost, inside its line (:func:`line_edits`).

Of the first ``_COMPARED`` sites, the smallest edit that makes the program pass the full check wins
(ties: a bracket that takes apart a pair of tokens the file writes once, :func:`scars_mended`; then the
shorter program, so a stray ``)`` is deleted rather than called); an edit after which the
grammar's failure point has moved past the edit and its old place fixed *that* slip, and the next
slip is edited (up to ``_MAX_SLIPS``).  Where the language has no incremental grammar, the sites come from the
check's problem spans.  When no point edit helps, the **statement pass** runs on what is left: each
problem's region widened to whole lines (a header with its indented block), remasked and denoised
with compiler-remasking rounds and the typed fallback.

>>> from treediff import repair
>>> r = repair("def f(x):\n    if x > 1\n        return x\n    return [x, 2\n", language="python")
>>> r.code
'def f(x):\n    if x > 1:\n        return x\n    return [x, 2]\n'
>>> r.record.ok, r.record.extra["edits"], r.record.extra["changed_bytes"], [h.text for h in r.holes]
(True, 2, 0, [':', ']'])

Misspelt keywords (``retrun``, ``whlie``: one or two edits from a keyword of the language's grammar,
:func:`keyword_edits`) are model-free edit sites in every language.  No silent deletions: a repair that removes
more than ``MAX_REMOVED_LINES`` non-blank lines of the user's code is no success (``ok`` false, a ``reason``,
the code as given, the lines in ``extra["would_remove"]``) unless ``allow_deletions``; ``extra["removed_lines"]``
counts them in every repair.

The record counts everything: ``rounds`` is the number of decoding passes after the first (point
edits tried, the statement pass, its own rounds), ``nfe`` and the guard's counters sum over all of
them; ``extra`` holds ``edits`` (point edits kept), ``model_free_edits`` (of those, the ones no model
decoded, which take no forward pass: parser inserts, layout edits, token inserts), ``edit_attempts`` and
``changed_bytes`` (bytes of the input replaced).  The result's holes are the changed regions of the code
(category ``"edit"``), found by diffing input and output.
"""

from __future__ import annotations

from treediff.repairs.diff import changes, drops_lone_token, edit_size, scars_mended
from treediff.repairs.driver import MAX_REMOVED_LINES, refuse_deletions, repair, repair_code
from treediff.repairs.keyword_edits import keyword_edits
from treediff.repairs.long import chunk_around, repair_chunks
from treediff.repairs.model_free import (bracket_inserts, flat_edits, layout_edits, line_edits, model_free_edits,
                                         opener_edits, parser_inserts)
from treediff.repairs.point_edits import repair_whole
from treediff.repairs.sites import edit_sites, failure_point, made_progress
from treediff.repairs.statements import statement_regions
from treediff.repairs.token_edits import sibling_tokens, token_inserts

__all__ = ["repair", "repair_code", "refuse_deletions", "MAX_REMOVED_LINES", "keyword_edits", "repair_whole",
           "repair_chunks", "chunk_around", "failure_point", "edit_sites",
           "made_progress", "parser_inserts", "bracket_inserts", "layout_edits", "opener_edits", "model_free_edits", "token_inserts",
           "statement_regions", "changes", "edit_size", "drops_lone_token", "scars_mended", "flat_edits", "line_edits",
           "sibling_tokens"]
