"""HLS emission: a design point -> a Vitis HLS project (templates in `hls_templates/`).

`emit_design` writes the project of a DesignPoint; `compile.build_and_run` checks it with g++ against the golden model.
"""
from codesign.hls.emit import EmitResult, emit_design

__all__ = ["EmitResult", "emit_design"]
