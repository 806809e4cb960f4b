//! Evaluation harnesses that score Faultline on public datasets.

pub mod nab;
