"""Code answers reduced to a canonical form, so that the same program written twice compares equal.

Code is taken from the answer's fenced blocks (```` ```python ````), ``[PYTHON]`` tags, or the
answer itself when it is bare code. Python that parses is normalized on its syntax tree:
docstrings, comments, annotations and example usage (top-level calls, prints, asserts and
``if __name__ == "__main__"`` blocks, when the answer defines something) are dropped, and every
name the code defines (functions, classes, parameters, variables) is renamed in order of first
appearance, so ``def add(a, b): return a + b`` equals ``def plus(x, y): return x+y``. Other code
(or Python cut off mid-way) is compared as a token stream with comments removed and identifiers
renamed the same way. Code is never run; only its first ``MAX_CODE_CHARS`` characters are read.

Two normalized programs are *similar* by the Jaccard index of their token 4-grams.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import textwrap
from dataclasses import dataclass

__all__ = ["CanonicalCode", "canonical_code", "extract_code"]

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_TAGS = re.compile(r"\[(PYTHON|CODE)\](.*?)(?:\[/\1\]|\Z)", re.DOTALL | re.IGNORECASE)
_BARE_CODE = re.compile(r"^\s*(def |class |import |from \S+ import |function |#include|public |const |let )",
                        re.MULTILINE)
_PY_LANGS = {"", "python", "py", "python3", "py3", "ipython"}
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|==|!=|<=|>=|=>|&&|\|\||\S")
_LINE_COMMENT = re.compile(r"(?://|#)[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
#: Words kept as they are in token streams: keywords of common languages and common builtins.
_KEEP = frozenset(keyword.kwlist) | frozenset(re.findall(r"\S+", """
    function var let const return if else for while do switch case break continue new this class extends
    public private protected static void int long float double char bool boolean string String true false
    null undefined None True False print len range list dict set tuple str map filter sum min max
    sorted enumerate zip abs any all console log Math push length include using namespace std vector auto
    struct fn mut impl pub use def lambda yield async await try catch finally throw throws import from
"""))
_MAX_TRIMS = 4
#: Code beyond this many characters is not compared (answers that long are degenerate: repeated
#: text that ran into the token limit); it bounds the verifier's time per answer.
MAX_CODE_CHARS = 8000
_GRAM = 4


@dataclass(frozen=True, slots=True)
class CanonicalCode:
    """``key`` is equal for programs that are the same after normalization; ``grams`` (token
    4-grams) measure how close two different ones are; ``parsed`` says the key came from Python's
    syntax tree rather than a token stream."""

    key: str
    grams: frozenset[str]
    parsed: bool


def extract_code(answer: str) -> tuple[str, str]:
    """``(language, code)``: the code blocks of ``answer`` (the ones in the first block's
    language, joined), or the whole answer when it is bare code; ``("", "")`` when there is none."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(answer)]
    blocks += [("python", m.group(2)) for m in _TAGS.finditer(answer)]
    blocks = [(lang, code) for lang, code in blocks if code.strip()]
    if not blocks:
        if _BARE_CODE.search(answer):
            return "", answer
        return "", ""
    defining = [b for b in blocks if re.search(r"\b(def|class|function|fn|func)\b", b[1])] or blocks
    lang = defining[0][0]
    same = [code for block_lang, code in blocks
            if block_lang == lang or (lang in _PY_LANGS and block_lang in _PY_LANGS)]
    return lang, "\n".join(same)


def canonical_code(answer: str) -> CanonicalCode | None:
    """The canonical form of the code in ``answer``, or ``None`` when it holds no code."""
    lang, code = extract_code(answer)
    code = code[:MAX_CODE_CHARS]
    if not code.strip():
        return None
    if lang in _PY_LANGS:
        tree = _parse_python(code)
        if tree is not None:
            tokens: list[str] = []
            _emit(tree, {}, tokens)
            return CanonicalCode("py:" + " ".join(tokens), _grams(tokens), parsed=True)
    tokens = _stream_tokens(code)
    if not tokens:
        return None
    return CanonicalCode(f"{lang or 'code'}:" + " ".join(tokens), _grams(tokens), parsed=False)


def _parse_python(code: str) -> ast.Module | None:
    """The module; for a cut-off answer, the lines before the first syntax error (a few tries)."""
    lines = textwrap.dedent(code.replace("\r\n", "\n")).strip("\n").splitlines()
    lines = [line for line in lines if not line.lstrip().startswith((">>>", "..."))] or lines
    for _ in range(_MAX_TRIMS):
        if not lines:
            return None
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as exc:
            bad = exc.lineno or len(lines)
            lines = lines[: min(bad, len(lines)) - 1] if bad > 1 else []
            continue
        except ValueError:  # null bytes
            return None
        return _keep_definitions(tree)
    return None


def _keep_definitions(tree: ast.Module) -> ast.Module:
    """Without example usage: top-level statements other than definitions and imports, when the
    code defines something."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    if any(isinstance(s, kinds[:3]) for s in tree.body):
        tree.body = [s for s in tree.body if isinstance(s, kinds)]
    return tree


#: Fields that do not change what a program does (or that the renaming makes moot).
_SKIP = frozenset({"ctx", "type_comment", "returns", "annotation", "type_params", "kind"})
#: Fields holding a name the code binds, per node type.
_BINDS = {"FunctionDef": "name", "AsyncFunctionDef": "name", "ClassDef": "name", "arg": "arg",
          "ExceptHandler": "name"}
_BUILTINS = frozenset(dir(builtins))
_WITH_BODY = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _emit(node: ast.AST, names: dict[str, str], out: list[str]) -> None:
    """Serialize ``node`` into ``out`` in source order, without docstrings or annotations, with
    every bound name (and every free one that is not a builtin) renamed by first appearance."""
    kind = type(node).__name__
    out.append(kind)
    binds = _BINDS.get(kind)
    for field in node._fields:
        if field in _SKIP:
            continue
        value = getattr(node, field, None)
        if isinstance(value, list):
            if field == "body" and isinstance(node, _WITH_BODY) and value and _is_docstring(value[0]):
                value = value[1:]
            out.append("[")
            for item in value:
                if isinstance(item, ast.AST):
                    _emit(item, names, out)
                else:
                    out.append(_rename(str(item), names, bound=True) if kind in ("Global", "Nonlocal")
                               else repr(item))
            out.append("]")
        elif isinstance(value, ast.AST):
            _emit(value, names, out)
        elif value is None:
            out.append("~")
        elif field == binds or (kind == "Name" and field == "id"):
            bound = binds is not None or isinstance(getattr(node, "ctx", None), ast.Store | ast.Del)
            out.append(_rename(value, names, bound=bound))
        elif kind == "keyword" and field == "arg":
            out.append(names.get(value, value))
        else:
            out.append(repr(value))


def _rename(name: str, names: dict[str, str], *, bound: bool) -> str:
    known = names.get(name)
    if known is not None:
        return known
    if not bound and name in _BUILTINS:
        return name
    names[name] = alias = f"_{len(names)}"
    return alias


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _stream_tokens(code: str) -> list[str]:
    """Tokens of any language: comments removed, identifiers renamed by first appearance."""
    code = _BLOCK_COMMENT.sub(" ", code)
    code = "\n".join(_LINE_COMMENT.sub("", line) if not _in_string(line) else line for line in code.splitlines())
    names: dict[str, str] = {}
    out: list[str] = []
    for token in _TOKEN.findall(code):
        if (token[0].isalpha() or token[0] == "_") and token not in _KEEP:
            token = names.setdefault(token, f"_{len(names)}")
        out.append(token)
    return out


def _in_string(line: str) -> bool:
    """Whether a comment marker on ``line`` may sit inside a string literal (then it is kept)."""
    for marker in ("//", "#"):
        at = line.find(marker)
        if at >= 0 and (line[:at].count('"') % 2 or line[:at].count("'") % 2):
            return True
    return False


def _grams(tokens: list[str]) -> frozenset[str]:
    if len(tokens) < _GRAM:
        return frozenset([" ".join(tokens)]) if tokens else frozenset()
    return frozenset(" ".join(tokens[i:i + _GRAM]) for i in range(len(tokens) - _GRAM + 1))
