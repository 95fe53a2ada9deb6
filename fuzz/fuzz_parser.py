"""Coverage-guided fuzzing of the .dlm reader with atheris.

The contract under test: for any bytes, reading a document either succeeds
(and then writing it back reproduces the text exactly, and reading that
again gives the same value) or raises DocumentError. Any other exception is
a bug.

    pip install atheris
    mkdir -p fuzz/corpus && python fuzz/fuzz_parser.py fuzz/corpus fuzz/seeds -max_total_time=300
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from dlm_core.document.parser import parse
    from dlm_core.document.serializer import serialize
    from dlm_core.errors import DocumentError


def one_input(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # read_text turns these into DocumentError before parsing
    if "\x00" in text:
        return
    try:
        document = parse(text)
    except DocumentError:
        return
    written = serialize(document)
    if written != text:
        raise AssertionError("serialize(parse(text)) != text")
    if parse(written) != document:
        raise AssertionError("parse(serialize(doc)) != doc")
    fresh = serialize(document.with_sections(s.detached() for s in document.sections))
    if parse(fresh) != document:
        raise AssertionError("canonical rendering does not read back the same document")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
