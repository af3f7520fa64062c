//! wa-sim
