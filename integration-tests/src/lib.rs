//! Black-box tests of the `faultline` binary live in `tests/`; this library holds helpers
//! they share.
