"""The IR: op table, types, the shared tensor-method mixin, graphs and their passes.

Imports only numpy, networkx, the standard library and tracegrad's foundation modules
(dtypes, errors, device)."""
