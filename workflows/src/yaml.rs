//! YAML text → a spanned node tree (the one place that knows the YAML library). Stub.
