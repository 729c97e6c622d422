"""The sysdig/Falco filter language: parse (``parser``), check and compile to pyarrow (``compile``)."""

from sysnb.filter.compile import CompiledFilter, compile_filter, compile_node

__all__ = ["CompiledFilter", "compile_filter", "compile_node"]
