//! The one integration-test binary (one link of wasmtime instead of one per file).

mod ifs_cloud;
mod runtime;
mod ups;
