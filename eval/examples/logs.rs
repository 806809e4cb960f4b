//! `cargo run --release -p faultline-eval --example logs -- DIR`: template mining on
//! Loghub-2k (`DIR` defaults to `../shared/datasets/loghub-2k`); per-system progress on
//! stderr, then the result JSON on stdout, pretty and then on one line.

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/datasets/loghub-2k".to_owned());
    let v = faultline_eval::loghub::evaluate(std::path::Path::new(&dir), &mut std::io::stderr())?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    println!("{}", serde_json::to_string(&v)?);
    Ok(())
}
