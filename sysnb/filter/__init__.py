"""The sysdig/Falco filter language: parse (``parser``), check and compile to pyarrow (``compile``)."""

from sysnb.filter.compile import CompiledFilter, compile_filter

__all__ = ["CompiledFilter", "compile_filter"]
