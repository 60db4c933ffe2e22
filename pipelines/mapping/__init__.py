"""The mapping expression language (pure Python, no Django).

compile_mapping() checks a mapping {output path: expression} against the
input and output schemas and compiles each expression once into closures;
CompiledMapping.apply() then transforms one record at a time.
"""

from .compiler import CompiledMapping, compile_mapping
from .errors import MappingError, TransformError
from .parser import FUNCTIONS

__all__ = ["FUNCTIONS", "CompiledMapping", "MappingError", "TransformError", "compile_mapping"]
