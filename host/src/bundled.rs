//! The first-party components, built from `plugins/` by `build.rs` and bundled into the
//! binary. They load through the same path as any other component; a plugins directory or the
//! admin API can replace them at run time.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
