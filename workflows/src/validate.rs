//! Validation of a parsed workflow (needs cycles, ids, crons, expressions, contexts). Stub.
