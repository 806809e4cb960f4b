//! `cargo run --release -p faultline-eval --example rca -- DATASET DIR`: prints per-case
//! progress on stderr and the result JSON on stdout.

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dataset), Some(dir)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: rca DATASET DIR");
    };
    let v = faultline_eval::rca(&dataset, std::path::Path::new(&dir), &mut std::io::stderr())?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}
