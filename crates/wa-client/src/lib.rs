//! wa-client
