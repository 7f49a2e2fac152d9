"""The grammar constraint at commit time: a :data:`~treediff.sample.steppers.Guard` over prefix sessions.

What it guarantees (given the language's incremental grammar, :mod:`treediff.syntax.prefix_grammar`):

* **Frontier commits are checked.**  The *frontier* of a row is its first masked position.  A token
  is committed there only if the text up to the next masked position (the decoded prefix, the new
  token, and any provisional tokens already committed after it) is a viable prefix of the grammar,
  or, when no masked position remains, a complete program.  Candidates are tried in the model's
  ranking (``num_candidates`` of them).
* **Out-of-order commits are provisional.**  A token committed behind a mask cannot be checked
  exactly (the gap may hold any text).  It keeps its ranked candidates and is checked when the gap
  before it closes: if no candidate for the gap makes the joined text viable, the gap takes its
  best viable candidate and the run after it is *re-chosen* left to right from the stored
  candidates, with no forward pass (``num_rechosen``); from the first position where none fits,
  the rest of the run is remasked and decoded again (``num_rejected_runs``).
* **Closable at the end** (symbolic completion).  For generation at the end of a program
  (synthesis), in the last ``horizon`` positions a candidate is preferred when the grammar's
  shortest closing text (``PrefixSession.closing_suffix``) still fits in the positions left; when
  none of the model's candidates does, the first token of that closing text is committed instead
  and counted in ``num_forced`` (reported in every record, never hidden).  A hole inside a program gets
  the same rule in its own last ``horizon`` positions, for the brackets it opened itself (those open
  where the hole starts are the following text's to close).
* **Smallest edit first** (``close_early``, used by point-edit repair).  At the frontier of a hole
  whose later positions are all still masked, a candidate after which the fixed text that follows
  the hole (a window of it) is viable is preferred (when the model offers none, the first token of
  the grammar's closing text, counted in ``num_forced``), and once the fixed text already fits, the
  position is left empty: the hole ends as soon as the program can go on.
* **Never stuck.**  When no candidate is viable at the frontier the position is left empty
  (``end_id``): the prefix stays viable, the position is counted as dropped.

So the decoded prefix is always viable under the grammar.  Not guaranteed: that the program is
complete when the token budget runs out (compiler remasking and the typed fallback handle that),
and anything the grammar does not model (CPython's own checks such as ``return`` outside a
function, which the compiler front end catches).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from treediff.model.formats import DiffusionLM
from treediff.syntax.keywords import keywords

__all__ = ["GrammarGuard", "GuardStats", "grammar_for", "guard_grammar_for"]

_WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_LEADING_WORD = re.compile(r"[A-Za-z0-9_]*")
_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class GuardStats:
    """What a :class:`GrammarGuard` did in one run: prefix checks ``num_checks``; positions left empty
    (``num_dropped``) or given the grammar's closing token (``num_forced``), also per row; provisional tokens
    ``num_remasked``; ``num_rechosen`` tokens and ``num_rechosen_runs`` runs re-chosen from stored candidates
    when their gap closed; ``num_rejected_runs`` runs (partly) remasked because no stored candidate fitted."""

    num_checks: int = 0
    num_dropped: int = 0
    num_forced: int = 0
    num_remasked: int = 0
    num_rechosen: int = 0
    num_rechosen_runs: int = 0
    num_rejected_runs: int = 0
    forced_per_row: tuple[int, ...] = ()
    dropped_per_row: tuple[int, ...] = ()


def grammar_for(language) -> Any:
    """The language's incremental prefix grammar, or ``None`` when its data has no ``[constraint]`` table."""
    from treediff.syntax.prefix_grammar import PrefixGrammar

    return PrefixGrammar.for_language(language)


def guard_grammar_for(language) -> Any:
    """What the sampler's guard checks prefixes against: the exact LALR grammar where the language has one
    (:func:`grammar_for`), else the incremental tree-sitter guard of its ``[prefix_guard]`` table
    (:mod:`treediff.syntax.ts_prefix`), else ``None``."""
    from treediff.syntax.ts_prefix import TreeSitterGrammar

    grammar = grammar_for(language)
    return grammar if grammar is not None else TreeSitterGrammar.for_language(language)


class GrammarGuard:
    """Per-row prefix sessions over the content ``[start, end)`` of each sequence (specials excluded)."""

    def __init__(self, lm: DiffusionLM, grammar, editable: np.ndarray, start: int, end: int, *,
                 language: str = "python", horizon: int = 16, close_early: bool = False,
                 closed_holes: bool = False, glued_keywords: bool = False) -> None:
        self.lm = lm
        self.close_early = close_early
        self.closed_holes = closed_holes
        self.glued_keywords = glued_keywords
        self._names: dict[int, list[str]] = {}  # per row: the words of the fixed text and the keywords, sorted
        self.language = language
        self.horizon = horizon
        self._closing: dict[str, int] = {}
        self.editable = np.asarray(editable, dtype=bool)  # [B, L]: generated positions (only these are remasked)
        num_rows = self.editable.shape[0]
        self.sessions = [grammar.session() for _ in range(num_rows)]
        self.start = start
        self.end = end
        # this run's counts, read through `stats` (a frozen GuardStats)
        self._tally = dict.fromkeys(("num_checks", "num_dropped", "num_forced", "num_remasked", "num_rechosen",
                                     "num_rechosen_runs", "num_rejected_runs"), 0)
        self._forced = np.zeros(num_rows, dtype=np.int64)  # per row
        self._dropped = np.zeros(num_rows, dtype=np.int64)  # per row
        self._alternatives: list[dict[int, list]] = [{} for _ in range(num_rows)]  # provisional candidates
        # editable positions from each content position to the end, per row (the layout never changes)
        self._room = np.cumsum(self.editable[:, start:end][:, ::-1], axis=1)[:, ::-1]
        self._open_ends: dict[int, bool] = {}
        self._tok_text: dict[int, str] = {}

    @property
    def stats(self) -> GuardStats:
        """This run's counts so far, as a frozen :class:`GuardStats`."""
        return GuardStats(**self._tally, forced_per_row=tuple(int(x) for x in self._forced),
                          dropped_per_row=tuple(int(x) for x in self._dropped))

    def _text(self, token: int) -> str:
        t = self._tok_text.get(token)
        if t is None:
            t = self._tok_text[token] = self.lm.token_text(token)
        return t

    def __call__(self, row: int, pos: int, candidates: list, ids: np.ndarray, masked: np.ndarray) -> bool:
        lo, hi = self.start, self.end
        gaps = np.flatnonzero(masked[lo:hi])
        frontier = lo + int(gaps[0]) if gaps.size else hi
        if pos != frontier:  # provisional: checked when the gap before it closes
            ids[pos] = candidates[0]
            masked[pos] = False
            self._alternatives[row][pos] = candidates
            return True
        later = gaps[gaps > pos - lo]
        nxt = lo + int(later[0]) if later.size else hi
        session = self.sessions[row]
        head = self.lm.text_of(ids[lo:pos])
        tail = self.lm.text_of(ids[pos + 1 : nxt])
        check = session.viable if nxt < hi else session.complete
        left = int(later.size)  # masked positions after this one
        in_hole = self._hole_rule(row, pos, ids, masked, session, head, nxt)
        glue = self._glue_rule(row, pos, ids, head, tail)

        def fits(upto: str, rest: str) -> bool:
            return glue(upto, rest) and in_hole(upto, rest)
        if self.close_early:
            done = self._close_early(row, pos, candidates, ids, masked, head, tail, check, session)
            if done is not None:
                return done
        if left < self.horizon and self._open_end(ids, masked, lo, hi):
            # near the end of the budget: prefer a viable token after which the program can still be
            # closed in the positions left (the closing text's token count from the grammar) ...
            for c in candidates:
                text = head + self._text(c) + tail
                self._tally["num_checks"] += 1
                if check(text) and (nxt == hi or self._need(session, text) <= left) \
                        and fits(head + self._text(c), tail):
                    ids[pos], masked[pos] = c, False
                    return True
            # ... and when the model offers none, commit the first token of that closing text (counted)
            if not tail.strip():  # nothing but blanks (the program's final newline) after this position
                toks = self._closing_tokens(session.closing_suffix(head))
                if toks and len(toks) <= left + 1 and check(head + self._text(toks[0]) + tail):
                    return self._force(row, pos, toks[0], ids, masked)
        elif self.horizon:
            done = self._close_hole(row, pos, candidates, ids, masked, head, tail, check, session, fits)
            if done is not None:
                return done
        for c in candidates:
            self._tally["num_checks"] += 1
            if check(head + self._text(c) + tail) and fits(head + self._text(c), tail):
                ids[pos], masked[pos] = c, False
                return True
        run = pos + 1 < nxt and (not self.close_early or bool(self.editable[row, pos + 1:nxt].any()))
        if run:  # the provisional run after the gap is what fails: commit here, re-choose the run
            for c in candidates:
                self._tally["num_checks"] += 1
                if session.viable(head + self._text(c)) and fits(head + self._text(c), ""):
                    ids[pos], masked[pos] = c, False
                    self._rechoose(row, ids, masked, pos + 1, nxt, head + self._text(c), last=nxt == hi)
                    return True
        ids[pos], masked[pos] = self.lm.end_id, False
        self._tally["num_dropped"] += 1
        self._dropped[row] += 1
        if run and not session.viable(head + tail):
            self._rechoose(row, ids, masked, pos + 1, nxt, head, last=nxt == hi)
        return False

    def _glue_rule(self, row: int, pos: int, ids: np.ndarray, head: str, tail: str):
        """``ok(upto, tail)``: with ``glued_keywords``, whether the candidate (``upto`` is ``head`` and its text)
        glues no word onto a keyword of the language that starts no word of the program's fixed text and no
        keyword: ``return`` + ``1`` (``return1``), ``this`` + ``return``, a keyword token before a committed word.
        The syntax-aligned tokenizer writes ``returnValue`` as ``return`` + ``Value``, so a word the program
        holds (or a longer one it starts) may still be written."""
        if not self.glued_keywords:
            return lambda upto, rest: True
        kws = keywords(self.language)
        left = head[len(head.rstrip(_WORD_CHARS)):].lstrip("0123456789")  # the word the prefix ends in
        lead = _LEADING_WORD.match(tail).group()
        seen = self._corpus_glue(ids, pos, left) if left in kws else frozenset()

        def ok(upto: str, rest: str) -> bool:
            c = upto[len(head):]
            first = _LEADING_WORD.match(c).group()
            if c in seen:  # the training corpus glues it so (`char` + `At`): a name, as far as it knows
                return True
            if left and first and left in kws:  # `return` + `1...`
                word = left + first + (lead if first == c and rest.startswith(lead) else "")
            elif first and first == c and c in kws and lead and rest.startswith(lead) and not left:  # `return` + `x`
                word = c + lead
            else:
                return True
            return self._starts_a_name(row, ids, word)
        return ok

    def _corpus_glue(self, ids: np.ndarray, pos: int, left: str) -> frozenset[str]:
        """The texts of the tokens the model bundle's n-gram prior keeps after the token before the frontier, when
        that token is the whole keyword ``left`` (the corpus's ``charAt`` is ``char`` + ``At``); empty without a
        prior."""
        prior = getattr(self.lm, "prior", None)
        if prior is None or pos <= self.start or self._text(int(ids[pos - 1])) != left:
            return frozenset()
        language = next((int(t) for t in ids[:4] if prior.knows(int(t))), None)
        if language is None:
            return frozenset()
        return frozenset(self._text(int(t)) for t in prior.followers(language, int(ids[pos - 1])))

    def _starts_a_name(self, row: int, ids: np.ndarray, word: str) -> bool:
        """``word`` starts a word of the row's fixed text (the program around the holes) or a keyword."""
        names = self._names.get(row)
        if names is None:
            fixed = ids[self.start:self.end][~self.editable[row, self.start:self.end]]
            names = self._names[row] = sorted(set(_WORDS.findall(self.lm.text_of(fixed))) | keywords(self.language))
        at = bisect.bisect_left(names, word)
        return at < len(names) and names[at].startswith(word)

    def _hole_bounds(self, row: int, pos: int) -> tuple[int, int]:
        """The editable run (the hole) that holds ``pos``: its first position and the first one after it."""
        editable = self.editable[row]
        a, q = pos, pos + 1
        while a > self.start and editable[a - 1]:
            a -= 1
        while q < self.end and editable[q]:
            q += 1
        return a, q

    def _hole_rule(self, row: int, pos: int, ids: np.ndarray, masked: np.ndarray, session, head: str, nxt: int):
        """``fits(upto, tail)``: with ``closed_holes``, whether the text ``upto + tail`` (``upto``: the prefix and a
        candidate at ``pos``; ``tail``: what follows up to the next masked position) closes no bracket that was
        open where ``pos``'s hole starts (:meth:`~treediff.syntax.ts_prefix.TreeSitterSession.closes_outer`).
        Always true without the rule, for a session that keeps no bracket marks (Python's LALR guard), or for
        a hole that runs to the end of the content (synthesis: the program's own brackets are its to close)."""
        closes = getattr(session, "closes_outer", None)
        a, q = self._hole_bounds(row, pos)
        if not self.closed_holes or closes is None or q >= self.end:
            return lambda upto, tail: True
        start = len(self.lm.text_of(ids[self.start:a]).encode("utf-8"))
        inner = self.lm.text_of(ids[pos + 1:min(q, nxt)]) if nxt > q else None  # the hole's part of the tail

        def fits(upto: str, tail: str) -> bool:
            end = len((upto + (tail if inner is None else inner)).encode("utf-8"))
            return not closes(upto + tail, start, end)
        return fits

    def _close_hole(self, row: int, pos: int, candidates: list, ids: np.ndarray, masked: np.ndarray, head: str,
                    tail: str, check, session, fits=lambda upto, tail: True) -> bool | None:
        """Closable at the end of a hole inside a program: in the hole's last ``horizon`` masked positions, a
        candidate is preferred when the brackets it leaves open beyond those open where the hole starts fit
        in the positions the hole has left (one closer each); when none of the model's candidates does, the
        first token of the grammar's closing text is committed (counted in ``num_forced``).  ``None``: not near
        the hole's end, nothing opened, or a grammar whose sessions do not count open brackets (the usual rules
        apply).  Python's exact LALR guard keeps its own rules; its compiler remasking closes such holes."""
        depth = getattr(session, "open_brackets", None)
        if depth is None:
            return None
        a, q = self._hole_bounds(row, pos)
        left = int(masked[pos + 1:q].sum())  # this hole's masked positions after pos
        if left >= self.horizon:
            return None
        base = depth(self.lm.text_of(ids[self.start:a]))
        opened = depth(head)
        if base is None or opened is None:
            return None
        for c in candidates:
            self._tally["num_checks"] += 1
            text = head + self._text(c)
            if check(text + tail) and fits(text, tail):
                after = depth(text)
                if after is not None and after - base <= left:
                    ids[pos], masked[pos] = c, False
                    return True
        if opened <= base:  # the model offers nothing that fits: the hole may end here (left empty)
            self._tally["num_checks"] += 1
            if check(head + tail):
                ids[pos], masked[pos] = self.lm.end_id, False
                return True
            return None
        toks = self._closing_tokens(session.closing_suffix(head))
        if toks and check(head + self._text(toks[0]) + tail):
            return self._force(row, pos, toks[0], ids, masked)
        return None

    def _closing_tokens(self, suffix: str | None) -> list[int]:
        """The tokens of a grammar's closing text (none when it is blank or there is none)."""
        return self.lm.encode(suffix, self.language) if suffix and suffix.strip() else []

    def _force(self, row: int, pos: int, token: int, ids: np.ndarray, masked: np.ndarray) -> bool:
        """Commit a grammar-chosen ``token`` at ``pos``, counted in ``num_forced``."""
        ids[pos], masked[pos] = token, False
        self._tally["num_forced"] += 1
        self._forced[row] += 1
        return True

    _WINDOW = 64  # tokens of fixed text after a hole that an early close looks at (two lines at most)

    def _close_early(self, row: int, pos: int, candidates: list, ids: np.ndarray, masked: np.ndarray, head: str,
                     tail: str, check, session) -> bool | None:
        """Commit at ``pos`` a candidate after which the fixed text following the hole (its next two lines)
        stays viable, lexed as code (not swallowed by a comment or string the candidate opens, nor taken in
        by a bracket it opens: the grammar's closing text must not grow), or leave ``pos`` empty when that
        text fits already; failing both, a candidate that heads for a close (opens nothing, the closing text
        gets shorter).  At the hole's last position, empty when ``check(head + tail)`` (the usual check, to
        the next masked position or a complete program) holds.  ``True``: handled; ``None``: not handled
        (the usual rules apply), also when a later position of the hole holds a provisional token."""
        editable = self.editable[row]
        q = pos + 1
        while q < self.end and editable[q]:
            if not masked[q]:
                return None
            q += 1
        if q == pos + 1:  # the hole's last position: empty when the program goes on without it, else as usual
            self._tally["num_checks"] += 1
            if check(head + tail):
                ids[pos], masked[pos] = self.lm.end_id, False
                return True
            return None
        r = q
        while r < min(self.end, q + self._WINDOW) and not masked[r]:
            r += 1
        fixed = self.lm.text_of(ids[q:r])
        cut = fixed.find("\n", fixed.find("\n") + 1)
        fixed = fixed if cut < 0 else fixed[: cut + 1]
        if self._as_code(session, head, fixed):
            ids[pos], masked[pos] = self.lm.end_id, False
            return True
        suffix = session.closing_suffix(head)

        def closes_by(text: str, strictly: bool) -> bool:  # the grammar's closing text does not grow (shrinks)
            self._tally["num_checks"] += 1
            grown = session.closing_suffix(text)
            if grown is None:
                return False
            if suffix is None:
                return not strictly
            return len(grown) < len(suffix) if strictly else len(grown) <= len(suffix)

        # a candidate that opens a bracket (its closing text grows) would take the fixed text in as arguments
        for c in candidates:
            text = head + self._text(c)
            if self._as_code(session, text, fixed) and closes_by(text, strictly=False):
                ids[pos], masked[pos] = c, False
                return True
        # none of the model's candidates: the first token of the grammar's shortest closing text, if the fixed
        # text fits after it (a missing ')' the model does not rank); counted as forced
        toks = self._closing_tokens(suffix)
        if toks and self._as_code(session, head + self._text(toks[0]), fixed):
            return self._force(row, pos, toks[0], ids, masked)
        # nothing closes yet: the model's best candidate that heads for a close (it opens no comment, string or
        # bracket; the closing text gets shorter), so the next position may close
        for c in candidates[:8]:
            text = head + self._text(c)
            if self._as_code(session, text) and closes_by(text, strictly=True):
                ids[pos], masked[pos] = c, False
                return True
        return None

    def _as_code(self, session, text: str, after: str = "") -> bool:
        """``text + after`` is viable, with ``after`` lexed as code: ``text`` leaves no comment or string open
        that would swallow ``after`` (``session.swallows``)."""
        self._tally["num_checks"] += 2
        return session.viable(text + after) and not session.swallows(text)

    def _open_end(self, ids: np.ndarray, masked: np.ndarray, lo: int, hi: int) -> bool:
        """True when only blank fixed text follows the last masked (or editable) position (generation at the
        end of a program, as in synthesis), so the grammar's closing text is what the remaining masks must hold."""
        where = np.flatnonzero(masked[lo:hi])
        if where.size == 0:
            return False
        last = lo + int(where[-1])
        return not self.lm.text_of(ids[last + 1 : hi]).strip()

    def _need(self, session, text: str) -> int:
        need = self._closing.get(text)
        if need is None:
            suffix = session.closing_suffix(text)
            need = 10**6 if suffix is None else (len(self.lm.encode(suffix, self.language)) if suffix.strip() else 0)
            if len(self._closing) > 4096:
                self._closing.clear()
            self._closing[text] = need
        return need

    def _rechoose(self, row: int, ids: np.ndarray, masked: np.ndarray, a: int, b: int, text: str, *,
                  last: bool) -> None:
        """Re-check the provisional run ``[a, b)`` after its gap closed on ``text``, left to right: each
        position keeps the first of its stored candidates (the model's ranking when it was committed) that
        leaves the text viable, so no forward pass is spent; from the first position where none does, the
        rest of the run is remasked (a rejected commit).  ``last``: the run ends the content, so the
        joined text must also be a complete program, else the whole run is remasked."""
        session = self.sessions[row]
        alternatives = self._alternatives[row]
        self._tally["num_rechosen_runs"] += 1
        lo, hi = self.start, self.end
        open_end = self._open_ends.get(row)
        if open_end is None:  # only fixed text follows the last editable position: it never changes
            open_end = self._open_ends[row] = self._open_end(ids, self.editable[row], lo, hi)
        after = self._room[row]
        for q in range(a, b):
            options = alternatives.pop(q, None) or [int(ids[q])]
            if not self.editable[row, q]:
                options = [int(ids[q])]
            room = int(after[q - lo]) - 1  # positions after q that may still change
            closing = open_end and self.horizon and room < self.horizon
            for c in options[:4] if closing else options:  # a closing check costs about a millisecond
                self._tally["num_checks"] += 1
                joined = text + self._text(c)
                if session.viable(joined) and (not closing or self._need(session, joined) <= room):
                    if c != ids[q]:
                        self._tally["num_rechosen"] += 1
                    ids[q] = c
                    text = joined
                    break
            else:  # nothing fits here: the rest is decoded again (from the run's start if fixed text fails)
                self._tally["num_rejected_runs"] += 1
                self._remask(row, ids, masked, q if self.editable[row, q] else a, b)
                return
        self._tally["num_checks"] += 1
        if last and not session.complete(text):
            self._tally["num_rejected_runs"] += 1
            self._remask(row, ids, masked, a, b)

    def _remask(self, row: int, ids: np.ndarray, masked: np.ndarray, a: int, b: int) -> None:
        sel = np.flatnonzero(self.editable[row, a:b]) + a
        for q in sel:
            self._alternatives[row].pop(int(q), None)
        ids[sel] = self.lm.mask_id
        masked[sel] = True
        self._tally["num_remasked"] += int(sel.size)
