"""Code answers: the same program written differently compares equal, a different one does not."""

from __future__ import annotations

import keyword

from hypothesis import given
from hypothesis import strategies as st

from costroute.cascade import Prompt, canonical_code, extract_code, normalize, similarity

P = Prompt.from_text("Write a function to sum the digits of a non-negative integer.")

ORIGINAL = '''Here is a function:

```python
def sum_digits(n: int) -> int:
    """Sum of the digits of n."""
    total = 0  # running sum
    while n > 0:
        total += n % 10
        n //= 10
    return total
```

For example:

```python
print(sum_digits(123))  # 6
```
'''

RENAMED = '''[PYTHON]
def digit_sum(number):
    acc = 0
    while number > 0:
        acc += number % 10
        number //= 10
    return acc

assert digit_sum(123) == 6
[/PYTHON]
'''

DIFFERENT = '''```python
def sum_digits(n):
    return sum(int(d) for d in str(n))
```'''


def key(answer: str) -> str:
    code = canonical_code(answer)
    assert code is not None
    return code.key


def test_names_comments_docstrings_annotations_and_example_usage_do_not_matter() -> None:
    assert key(ORIGINAL) == key(RENAMED)
    assert canonical_code(ORIGINAL).parsed  # type: ignore[union-attr]


def test_a_different_program_differs_but_stays_similar_in_part() -> None:
    a, b = normalize("code", ORIGINAL, P), normalize("code", DIFFERENT, P)
    assert a is not None and b is not None and a.key != b.key
    assert 0.0 <= similarity(a, b) < 1.0
    assert similarity(a, normalize("code", RENAMED, P)) == 1.0


def test_operators_and_constants_matter() -> None:
    assert key("def f(a, b):\n    return a + b") != key("def f(a, b):\n    return a - b")
    assert key("def f(a):\n    return a * 2") != key("def f(a):\n    return a * 3")
    assert key("def f(a, b):\n    return a + b") != key("def f(a, b):\n    return b + a")


def test_builtins_keep_their_names_unless_the_code_rebinds_them() -> None:
    assert key("def f(x):\n    return len(x)") != key("def f(x):\n    return sum(x)")
    shadow_a = "def f(n):\n    sum = 0\n    for d in str(n):\n        sum += int(d)\n    return sum"
    shadow_b = "def f(n):\n    total = 0\n    for d in str(n):\n        total += int(d)\n    return total"
    assert key(shadow_a) == key(shadow_b)


def test_cut_off_python_is_compared_up_to_where_it_stops() -> None:
    whole = "```python\ndef f(x):\n    return x + 1\n\ndef g(y):\n    return y * 2\n```"
    cut = "```python\ndef f(x):\n    return x + 1\n\ndef g(y):\n    return (y *"
    assert canonical_code(cut) is not None
    assert key(cut) == key("def f(x):\n    return x + 1")
    assert key(whole) != key(cut)


def test_other_languages_compare_as_token_streams_with_identifiers_renamed() -> None:
    a = ("```javascript\nfunction intersect(a, b) {\n  // keep shared ones\n"
         "  return a.filter(x => b.includes(x));\n}\n```")
    b = ("```javascript\nfunction common(arr1, arr2) {\n"
         "  /* shared */ return arr1.filter(v => arr2.includes(v));\n}\n```")
    code_a, code_b = canonical_code(a), canonical_code(b)
    assert code_a is not None and code_b is not None and not code_a.parsed
    assert code_a.key == code_b.key
    python = "```python\ndef intersect(a, b):\n    return [x for x in a if x in b]\n```"
    assert key(python) != code_a.key


def test_extract_code() -> None:
    assert extract_code("no code in this answer at all") == ("", "")
    assert extract_code("def f():\n    return 1\n")[1].startswith("def f")
    lang, code = extract_code("```js\nconsole.log(1)\n```\nand\n```python\ndef f():\n    pass\n```")
    assert lang == "python" and "def f" in code  # the block that defines something wins
    assert canonical_code("Just prose, sorry.") is None


_IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in dir(__builtins__) and not s.startswith("_"))


@given(st.lists(_IDENT, min_size=4, max_size=4, unique=True), st.lists(_IDENT, min_size=4, max_size=4, unique=True))
def test_any_consistent_renaming_keeps_the_key(a: list[str], b: list[str]) -> None:
    template = ("def {0}({1}, {2}):\n    {3} = []\n    for item in {1}:\n        if item in {2}:\n"
                "            {3}.append(item)\n    return {3}\n")
    assert key(template.format(*a)) == key(template.format(*b))


def test_only_the_first_max_code_chars_are_compared() -> None:
    from costroute.cascade._code import MAX_CODE_CHARS

    body = "def f(x):\n" + "    x = x + 1\n" * (MAX_CODE_CHARS // 14 + 10)
    assert key(body + "    return x\n") == key(body + "    return -x\n")  # the difference lies past the cap
