"""HLS emission: a design point -> a Vitis HLS project (templates in `hls_templates/`).

`emit_hls` writes the project; `compile.build_and_run` checks it with g++ against the golden model.
"""
from codesign.hls.emit import EmitResult, emit_hls

__all__ = ["EmitResult", "emit_hls"]
