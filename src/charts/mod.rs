//! Charts: pure functions from results to PNG bytes.
