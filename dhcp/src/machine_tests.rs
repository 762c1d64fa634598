//! State machine tests: see below.
