"""``dlm export``: an adapter version as a transformers folder, a GGUF, an Ollama model or a dataset.

One module per job: :mod:`.source` finds the document, store and version;
:mod:`.hf` merges; :mod:`.gguf` and :mod:`.llamacpp` convert and quantize
with llama.cpp's own tools; :mod:`.ollama` writes the Modelfile;
:mod:`.dataset` the JSONL records; :mod:`.manifest` and :mod:`.writer` the
manifest and the temp-folder-then-rename; :mod:`.run` ties them together;
:mod:`.cache` keeps one GGUF per adapter version for the llama.cpp sampler.
"""

from __future__ import annotations

from dlm_core.export.run import TARGETS, ExportOptions, ExportResult, export_document

__all__ = ["TARGETS", "ExportOptions", "ExportResult", "export_document"]
