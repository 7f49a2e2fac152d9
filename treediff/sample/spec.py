"""Synthesis specifications and the prompt format.

A spec is one of:

* **a Python stub**: code with a signature and a docstring (HumanEval's prompts are such stubs), or a
  class with its docstring (``class Stack: \"\"\"...\"\"\"``).  The program is the stub followed by a
  ``block`` hole at the body's indentation: the model writes the rest of the last definition's body.
* **plain text** describing the task, with an optional target ``signature`` (``"add(a, b)"`` or
  ``"def add(a: int, b: int) -> int"``).  With a signature the prompt is
  ``def SIGNATURE:\\n    \"\"\"TEXT\"\"\"\\n`` and a body hole; without one it is the text as ``#``
  comment lines followed by a module-level ``statement`` hole.  A text that names its function or class
  (```count_vowels(s)```, ``def count_vowels(s)``, "a function count_vowels(s)", "a class Stack") gets
  that definition as its signature when none is given.
* **code with hole markers** (``<|hole|>``, any language): used as written.
* **a JSONL file** of such specs, one object per line: ``{"id" | "spec_id" | "task_id": ..., "prompt" | "spec" |
  "text": ..., "signature": ..., "language": ...}``.

The model sees ``<|lang:python|> <|bos|>`` then the prompt's tokens, the hole's mask tokens, and the
rest (``<|eos|>`` last), exactly the layout of the training stream.

>>> s = Spec.from_text("Return the sum of a and b.", signature="add(a, b)")
>>> print(s.template_code(), end="")
def add(a, b):
    \"\"\"Return the sum of a and b.\"\"\"
    <|hole:block|>
>>> print(Spec.from_text("Write a function `count_vowels(s)` that counts vowels.").template_code(), end="")
def count_vowels(s):
    \"\"\"Write a function `count_vowels(s)` that counts vowels.\"\"\"
    <|hole:block|>
>>> print(Spec.from_text('class Stack:\\n    \\"\\"\\"A LIFO stack.\\"\\"\\"\\n').template_code(), end="")
class Stack:
    \"\"\"A LIFO stack.\"\"\"
    <|hole:block|>
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from treediff.errors import InputError
from treediff.syntax.holes import HOLE_PATTERN
from treediff.syntax.language import get_language
from treediff.syntax.tree import parse, read_source

__all__ = ["Spec", "read_specs", "named_definition"]

_MAX_SPEC_FILE_BYTES = 100_000_000  # a .jsonl of many specs


@dataclass(frozen=True)
class Spec:
    """One synthesis request: ``id``, ``kind`` (``stub|text|holes``), ``text``, ``signature``, ``language``."""

    id: str
    kind: str
    text: str
    signature: str | None = None
    language: str = "python"

    @classmethod
    def from_text(cls, text: str, *, signature: str | None = None, language: str = "python",
                  id: str = "spec-0") -> "Spec":
        """Classify ``text``: hole markers → ``holes``; Python code defining a function → ``stub``; else ``text``."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("empty spec: give a task description, a stub with a signature and docstring, "
                             "or code with <|hole|> markers")
        lang = get_language(language).name
        if "\x00" in text:
            raise InputError("spec contains NUL bytes: not text")
        if HOLE_PATTERN.search(text):
            return cls(id, "holes", text, signature, lang)
        if signature is None and lang == "python" and _is_python_stub(text):
            return cls(id, "stub", text, None, lang)
        if lang != "python":
            raise InputError(f"a plain-text spec needs language python; for {lang} give code with <|hole|> markers")
        return cls(id, "text", text.strip(), signature if signature is not None else named_definition(text), lang)

    def template_code(self) -> str:
        """The program with its hole marker(s), as the sampler fills it."""
        if self.kind == "holes":
            return self.text
        if self.kind == "stub":
            code = self.text if self.text.endswith("\n") else self.text + "\n"
            return code + _body_indent(code) + "<|hole:block|>\n"
        if self.signature and self.signature.strip().startswith("class "):
            doc = self.text.replace('"""', '\\"\\"\\"')
            return f'{self.signature.strip().rstrip(":")}:\n    """{doc}"""\n    <|hole:block|>\n'
        if self.signature:
            sig = self.signature.strip().rstrip(":")
            if not sig.startswith(("def ", "async def ")):
                sig = "def " + sig
            if "(" not in sig:
                raise InputError(f"signature {self.signature!r} has no parameter list: write it as name(args)")
            doc = self.text.replace('"""', '\\"\\"\\"')
            return f'{sig}:\n    """{doc}"""\n    <|hole:block|>\n'
        comment = "".join(f"# {line}".rstrip() + "\n" for line in self.text.splitlines())
        return comment + "<|hole:statement|>\n"


_NAMED = (  # how plain text names the definition it asks for: (pattern, is a class)
    (re.compile(r"`(?:def\s+)?([A-Za-z_]\w*\s*\([^`()]*\))(?:\s*->\s*[^`]+)?`"), False),
    (re.compile(r"\bdef\s+([A-Za-z_]\w*\s*\([^()]*\))"), False),
    (re.compile(r"\b(?:function|method)\s+(?:called\s+|named\s+)?`?([A-Za-z_]\w*\s*\([^()]*\))"), False),
    (re.compile(r"\bclass\s+(?:called\s+|named\s+)?`?([A-Z]\w*)"), True),
)


def named_definition(text: str) -> str | None:
    """The signature (``name(args)``) or ``class Name`` a plain-text spec names, else ``None``.

    >>> named_definition("Write a function `count_vowels(s)` ..."), named_definition("a class named Stack")
    ('count_vowels(s)', 'class Stack')
    """
    for pattern, is_class in _NAMED:
        m = pattern.search(text)
        if m:
            return f"class {m.group(1)}" if is_class else m.group(1)
    return None


def _is_python_stub(text: str) -> bool:
    tree = parse(text, "python")
    if any(True for _ in tree.nodes("function_definition")):
        return True
    return not tree.ts_tree.root_node.has_error and any(True for _ in tree.nodes("class_definition"))


def _body_indent(code: str) -> str:
    """Indentation of the last definition's body (its docstring's column), or the header's plus four spaces."""
    tree = parse(code, "python")
    funcs = list(tree.nodes("function_definition")) + list(tree.nodes("class_definition"))
    if not funcs:
        return "    "
    last = max(funcs, key=lambda n: n.start_byte)
    body = last.child_by_field("body")
    if body is not None and body.end_byte > body.start_byte and body.children:
        return " " * body.children[0].start_point.column
    return " " * (last.start_point.column + 4)


def read_specs(source: str | os.PathLike[str], *, signature: str | None = None,
               language: str = "python") -> Iterator[Spec]:
    """Specs from a path (``.jsonl``: many; ``.py`` / other file: one) or a literal spec string."""
    path = Path(source) if isinstance(source, (str, os.PathLike)) and len(str(source)) < 4096 else None
    if path is not None and _is_file(path):
        text = read_source(path, max_bytes=_MAX_SPEC_FILE_BYTES).decode("utf-8")  # binary / non-UTF-8 / size: errors
        if path.suffix == ".jsonl":
            yield from _jsonl_specs(path, text, language)
            return
        if path.suffix and path.suffix != ".txt":
            from treediff.syntax.language import detect_language

            try:
                language = detect_language(path).name
            except InputError:
                pass
        yield Spec.from_text(text, signature=signature, language=language, id=path.stem)
        return
    if path is not None and str(source).endswith((".jsonl", ".py")) and not _is_file(path, exists=True):
        raise InputError(f"spec file {str(source)!r} does not exist")
    yield Spec.from_text(str(source), signature=signature, language=language)


def _is_file(path: Path, *, exists: bool = False) -> bool:
    """``path.is_file()`` (``path.exists()`` with ``exists``), False for a text that cannot be a file name (a
    component over the system's limit, a NUL byte): a literal spec such as a HumanEval prompt is not a path."""
    try:
        return path.exists() if exists else path.is_file()
    except (OSError, ValueError):
        return False


def _jsonl_specs(path: Path, text: str, language: str) -> Iterator[Spec]:
    count = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{lineno}: each line must be a JSON object")
        body = next((obj[k] for k in ("prompt", "spec", "text") if isinstance(obj.get(k), str)), None)
        if body is None:
            raise InputError(f"{path}:{lineno}: needs a string field prompt, spec or text")
        sid = str(next((obj[k] for k in ("id", "spec_id", "task_id") if k in obj), f"{path.stem}-{lineno}"))
        try:
            yield Spec.from_text(body, signature=obj.get("signature"), language=obj.get("language", language), id=sid)
        except InputError as err:
            raise InputError(f"{path}:{lineno}: {err}") from None
        count += 1
    if count == 0:
        raise InputError(f"{path}: no specs in the file")
