//! The command line: argument parsing and exit codes. `main.rs` (and the integration tests'
//! copy of the binary) call [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

use crate::run::Overrides;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use faultline_detectors::{Detector, DetectorSpec, EventTime};
use faultline_eval::nab::{self, WindowedGaussian};

/// Faultline: a streaming AIOps engine.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume the configured Kafka topics, detect anomalies, publish them. With no brokers
    /// configured, starts an embedded Kafka-protocol broker and prints its address.
    Run(RunArgs),
    /// Check rule/config files; prints every problem as `file:line:column: message` and exits
    /// non-zero if there is any.
    Validate {
        /// Files to check (merged as `run --config` would merge them).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the configuration files (for editor completion).
    Schema,
    /// Score Faultline on public benchmarks.
    #[command(subcommand)]
    Eval(Eval),
    /// Run the whole engine on a simulated microservice shop with injected faults: embedded
    /// broker, simulator, engine and a webhook receiver. Prints each fault beside the
    /// incident that found it; the last line is a JSON summary.
    Demo {
        /// Seeds the fault schedule and all noise.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write the simulated shop's stream (metrics, logs, deploys) into a Kafka cluster;
    /// prints the topology and rules to run Faultline on it with.
    Simulate {
        /// Kafka bootstrap servers.
        #[arg(long)]
        brokers: String,
        /// Seeds the fault schedule and all noise.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Pace the stream at this multiple of real time (default: as fast as possible).
        #[arg(long)]
        speed: Option<f64>,
    },
    /// Print the default parameters of a detector as JSON (the shape rule files will take).
    Params {
        /// Detector name: ensemble, ewma, robust_z, seasonal or change_point.
        #[arg(default_value = "ensemble")]
        detector: String,
    },
}

#[derive(Debug, Subcommand)]
enum Eval {
    /// Numenta Anomaly Benchmark: stream every file through a detector with one global
    /// configuration, write NAB's results layout, score with NAB's three profiles.
    Nab(NabArgs),
    /// Root-cause analysis on a public dataset (nezha, rcd-sockshop or petshop); the last
    /// line is a JSON object with `ac1`, `ac3`, `avg5` and the breakdowns.
    Rca {
        /// nezha, rcd-sockshop or petshop.
        #[arg(long)]
        dataset: String,
        /// The dataset folder (default `../shared/datasets/<dataset>`).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Log template mining on Loghub-2k: one default configuration for all 16 systems,
    /// grouping and parsing accuracy per system and averaged (original and corrected labels),
    /// lines/s on one core; the last line is a JSON object with `ga`, `pa`, `ga_corrected`,
    /// `pa_corrected` and `lines_per_sec`.
    Logs {
        /// The Loghub-2k folder (one folder per system).
        #[arg(long, default_value = "../shared/datasets/loghub-2k")]
        data: PathBuf,
    },
    /// False alarms of the default configuration on new series: fault-free simulated data
    /// (100 series per system, a real day), every series new at the start; the last line is
    /// a JSON object with incidents per 1,000 series-days, overall and on the first day.
    FalseAlarms {
        /// Simulated systems of 100 series each.
        #[arg(long, default_value_t = 3)]
        systems: u64,
        /// Days to simulate.
        #[arg(long, default_value_t = 3)]
        days: i64,
        /// Sampling interval in seconds.
        #[arg(long, default_value_t = 10)]
        step_s: i64,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Configuration file; repeat to merge several (e.g. engine.yaml and rules.yaml).
    #[arg(long, short)]
    config: Vec<PathBuf>,
    /// Kafka bootstrap servers (overrides `kafka.brokers`).
    #[arg(long)]
    brokers: Option<String>,
    /// State directory (overrides `state.dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP listen address (overrides `http.listen`).
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
}

#[derive(Debug, clap::Args)]
struct NabArgs {
    /// The NAB folder (holding data/ and labels/).
    #[arg(long, default_value = "../shared/datasets/nab")]
    data: PathBuf,
    /// Where to write `<detector>/<category>/<detector>_<file>.csv`; nothing is written
    /// without it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Detector to score: ensemble (default), ewma, robust_z, seasonal, change_point, or the
    /// baselines windowed_gaussian and null. Repeat to score several; `all` scores every one.
    #[arg(long, default_value = "ensemble")]
    detector: Vec<String>,
    /// JSON parameters for the detector instead of its defaults, e.g.
    /// `{"kind":"ewma","half_life":"2h"}` (one global setting for the whole corpus).
    #[arg(long, conflicts_with = "detector")]
    spec: Option<String>,
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn validate(files: &[PathBuf]) -> ExitCode {
    match faultline_config::load_files(files) {
        Ok(config) => {
            println!(
                "ok: {} file(s), {} rule(s)",
                files.len(),
                config.rules.len()
            );
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            for d in &diagnostics.0 {
                println!("{d}");
            }
            eprintln!("error: {} problem(s) found", diagnostics.0.len());
            ExitCode::FAILURE
        }
    }
}

/// Runs a command: `validate` answers with its own exit code, the others fail with an error.
fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { files } => return Ok(validate(&files)),
        Command::Run(args) => {
            let overrides = Overrides {
                brokers: args.brokers,
                data_dir: args.data_dir,
                http: args.http,
            };
            crate::run::run(crate::run::load_config(&args.config, &overrides)?)?;
        }
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&faultline_config::json_schema())?
            );
        }
        Command::Eval(Eval::Nab(args)) => eval_nab(&args)?,
        Command::Eval(Eval::Rca { dataset, data }) => {
            let data = data.unwrap_or_else(|| PathBuf::from("../shared/datasets").join(&dataset));
            let report = faultline_eval::rca(&dataset, &data, &mut std::io::stderr())?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Eval(Eval::Logs { data }) => {
            let report = faultline_eval::loghub::evaluate(&data, &mut std::io::stderr())?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Eval(Eval::FalseAlarms {
            systems,
            days,
            step_s,
        }) => {
            let settings = faultline_eval::false_alarms::Settings {
                systems,
                days,
                step_ms: step_s * 1000,
            };
            let report = faultline_eval::false_alarms::evaluate(&settings, &mut std::io::stderr())?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Demo { seed } => {
            crate::demo::demo(seed)?;
        }
        Command::Simulate {
            brokers,
            seed,
            speed,
        } => crate::demo::simulate(&brokers, seed, speed)?,
        Command::Params { detector } => {
            let spec = DetectorSpec::default_for(&detector)
                .with_context(|| format!("unknown detector `{detector}`"))?;
            println!("{}", serde_json::to_string_pretty(&spec)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A named way to score NAB rows.
enum Scorer {
    Faultline(DetectorSpec),
    WindowedGaussian,
    Null,
}

impl Scorer {
    fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "windowed_gaussian" => Scorer::WindowedGaussian,
            "null" => Scorer::Null,
            _ => Scorer::Faultline(DetectorSpec::default_for(name).with_context(|| {
                format!(
                    "unknown detector `{name}` (known: {}, windowed_gaussian, null)",
                    DetectorSpec::NAMES.join(", ")
                )
            })?),
        })
    }

    fn make(&self) -> Box<dyn FnMut(i64, f64) -> f64> {
        match self {
            Scorer::Faultline(spec) => {
                let mut detector = spec.build();
                Box::new(move |ms, value| {
                    detector.observe(EventTime::from_millis(ms), value).score()
                })
            }
            Scorer::WindowedGaussian => {
                let mut baseline = WindowedGaussian::new();
                Box::new(move |_, value| baseline.score(value))
            }
            Scorer::Null => Box::new(|_, _| 0.5),
        }
    }
}

fn eval_nab(args: &NabArgs) -> anyhow::Result<()> {
    let corpus = nab::Corpus::load(&args.data)
        .with_context(|| format!("loading NAB from {}", args.data.display()))?;
    let mut scorers = Vec::new();
    if let Some(json) = &args.spec {
        let spec: DetectorSpec =
            serde_json::from_str(json).context("parsing --spec as a detector spec")?;
        scorers.push((spec.name().to_owned(), Scorer::Faultline(spec)));
    } else {
        for name in &args.detector {
            if name == "all" {
                for n in DetectorSpec::NAMES
                    .iter()
                    .chain(&["windowed_gaussian", "null"])
                {
                    scorers.push(((*n).to_owned(), Scorer::parse(n)?));
                }
            } else {
                scorers.push((name.clone(), Scorer::parse(name)?));
            }
        }
    }
    if scorers.is_empty() {
        bail!("no detector to score");
    }
    let mut reports = Vec::new();
    for (name, scorer) in &scorers {
        let make = || scorer.make();
        reports.push(nab::evaluate(&corpus, name, &make, args.out.as_deref())?);
    }
    println!("{}", nab::table(&reports));
    // The last line is machine-readable: the first detector's scores.
    println!("{}", nab::summary_json(&reports[0]));
    Ok(())
}
