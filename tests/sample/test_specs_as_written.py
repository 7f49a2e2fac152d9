"""Specs as users write them (issue 17): class stubs keep their class, text names its definition, spec_id."""

from __future__ import annotations

import json

import pytest

from treediff.sample.spec import Spec, named_definition, read_specs


def test_a_class_stub_keeps_its_class():
    s = Spec.from_text('class Stack:\n    """A LIFO stack with push, pop and peek."""\n')
    assert s.kind == "stub"
    code = s.template_code()
    assert code.startswith("class Stack:\n") and code.endswith("    <|hole:block|>\n") and "#" not in code


@pytest.mark.parametrize("text, sig", [
    ("Write a function `count_vowels(s)` that counts the vowels in s.", "count_vowels(s)"),
    ("Implement def is_prime(n) returning True for primes.", "is_prime(n)"),
    ("Write a function fizz(n) that returns Fizz for multiples of 3.", "fizz(n)"),
    ("Write a class named Queue with enqueue and dequeue.", "class Queue"),
    ("Sum the numbers in a list.", None),
])
def test_plain_text_that_names_its_definition_gets_it(text, sig):
    assert named_definition(text) == sig
    code = Spec.from_text(text).template_code()
    if sig is None:
        assert code.startswith("# ")
    elif sig.startswith("class "):
        assert code.startswith(sig + ":\n")
    else:
        assert code.startswith(f"def {sig}:\n")


def test_spec_id_is_an_id_key(tmp_path):
    path = tmp_path / "specs.jsonl"
    path.write_text(json.dumps({"spec_id": "vowels", "prompt": "Count vowels in `count_vowels(s)`."}) + "\n")
    (spec,) = read_specs(path)
    assert spec.id == "vowels" and spec.signature == "count_vowels(s)"


def test_a_long_prompt_string_is_a_spec_not_a_path():
    # a HumanEval-style prompt passed as a string: longer than a file name may be, so it is never looked up as one
    prompt = 'def truncate_number(number: float) -> float:\n    """' + "Return the decimal part. " * 20 + '"""\n'
    (spec,) = read_specs(prompt)
    assert spec.kind == "stub" and spec.template_code().startswith("def truncate_number(")
    with pytest.raises(Exception, match="does not exist"):
        list(read_specs("x" * 300 + ".py"))  # a name that ends like a spec file but cannot be one
