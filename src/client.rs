//! CLI client of the WS API (STUB).
