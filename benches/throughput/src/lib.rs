//! See `benches/throughput.rs`: this package only hosts that benchmark.
