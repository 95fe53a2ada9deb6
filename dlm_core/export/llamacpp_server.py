"""``python -m dlm_core.export.llamacpp_server ARGS``: ``llama_cpp.server`` without llama.cpp's extra buffers.

The same command line as ``python -m llama_cpp.server``; models load
through :func:`dlm_core.export.llamacpp.without_extra_buffers`, so a
quantized model does not crash the server on CPUs where llama.cpp's AMX
path does. The tests serve the default base this way.
"""

from __future__ import annotations

import runpy

from dlm_core.export.llamacpp import without_extra_buffers

if __name__ == "__main__":
    with without_extra_buffers():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
