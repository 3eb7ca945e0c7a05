//! ml-connector host
