//! Command-line interface: clap types, one file per command, thin.
