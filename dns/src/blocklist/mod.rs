//! Blocklist engine (issue 3): parsing of list formats, the compiled engine, list sources.
