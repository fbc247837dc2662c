//! Output of plans and apply progress: human (colour, `similar` diffs) and JSON. Decides nothing.
