//! Node tests live in `tests/` (simulated pairs and lines) and in the
//! simulator; unit tests of the node's parts live with those parts.
