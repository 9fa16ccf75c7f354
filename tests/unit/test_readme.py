"""The README's Python examples run as written."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).parents[2] / "README.md"
_TEXT = README.read_text()
# Each block padded with the README's lines above it, so that its line numbers are the README's:
# a traceback points at the right line, and `inspect.getsource` (which Hypothesis calls on a test
# defined in a block) reads the function where it is, not at the block's offset from line 1.
BLOCKS = [
    "\n" * _TEXT.count("\n", 0, match.start(1)) + match.group(1)
    for match in re.finditer(r"```python\n(.*?)```", _TEXT, flags=re.DOTALL)
]


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})

    printed = capsys.readouterr().out
    for expected in re.findall(r"# (.+)$", code, flags=re.MULTILINE):
        if not expected[0].isupper():  # a comment that shows output, e.g. "# accepted filled"
            assert expected.strip() in printed
