//! Detector entries of rule files: `{kind: ewma, half_life: 10m}`.
//!
//! [`DetectorSpec`] is internally tagged by `kind`, and serde reads such enums through a
//! buffer that drops positions: every problem inside a detector would be reported at its
//! first line. So entries are read here with `kind` first, then the parameters straight
//! from the YAML mapping, which keeps the exact line and column of an unknown parameter or
//! a bad value, and records where each parameter was written for the bounds checks below
//! (the detectors document their bounds but trust their callers to keep them).

use std::fmt;
use std::time::Duration;

use faultline_detectors::{
    ChangePointParams, DetectorSpec, EnsembleParams, EwmaParams, RobustZParams, SeasonalParams,
    duration,
};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::diagnostics::{Loc, Located, Report};

/// One detector as written: its spec and where each of its parameters is.
#[derive(Debug, Clone)]
pub(crate) struct DetectorEntry {
    pub spec: DetectorSpec,
    /// Top-level parameter keys in the order written, with their positions.
    pub params: Vec<(String, Loc)>,
}

impl DetectorEntry {
    /// Where parameter `name` was written, if it was.
    pub fn param_at(&self, name: &str) -> Option<Loc> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, at)| *at)
    }
}

impl<'de> Deserialize<'de> for DetectorEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

/// The schema is the catalogue's own: the `kind`-first rule is a reading detail.
impl schemars::JsonSchema for DetectorEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        DetectorSpec::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        DetectorSpec::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        DetectorSpec::json_schema(generator)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = DetectorEntry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a detector mapping such as `{kind: ewma, half_life: 10m}`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetectorEntry, A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == "kind" => {}
            Some(key) => {
                return Err(de::Error::custom(format!(
                    "`kind` must be the first key of a detector, found `{key}` first"
                )));
            }
            None => return Err(de::Error::missing_field("kind")),
        }
        let kind = map.next_value_seed(KindSeed)?;
        let mut params = Vec::new();
        let rest = de::value::MapAccessDeserializer::new(RecordingMap {
            inner: map,
            keys: &mut params,
        });
        // Exhaustive over the catalogue: a new detector fails to compile here until added.
        let spec = match kind {
            DetectorSpec::Ewma(_) => DetectorSpec::Ewma(EwmaParams::deserialize(rest)?),
            DetectorSpec::RobustZ(_) => DetectorSpec::RobustZ(RobustZParams::deserialize(rest)?),
            DetectorSpec::Seasonal(_) => DetectorSpec::Seasonal(SeasonalParams::deserialize(rest)?),
            DetectorSpec::ChangePoint(_) => {
                DetectorSpec::ChangePoint(ChangePointParams::deserialize(rest)?)
            }
            DetectorSpec::Ensemble(_) => DetectorSpec::Ensemble(EnsembleParams::deserialize(rest)?),
        };
        Ok(DetectorEntry { spec, params })
    }
}

/// Reads the `kind` value as a unit enum variant: serde-saphyr positions errors raised
/// while reading a variant name at that name, not at the enclosing mapping.
struct KindSeed;

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = DetectorSpec;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<DetectorSpec, D::Error> {
        deserializer.deserialize_enum("DetectorKind", &DetectorSpec::NAMES, self)
    }
}

impl<'de> Visitor<'de> for KindSeed {
    type Value = DetectorSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a detector kind")
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<DetectorSpec, A::Error> {
        let (spec, variant) = data.variant_seed(KindName)?;
        de::VariantAccess::unit_variant(variant)?;
        Ok(spec)
    }
}

struct KindName;

impl<'de> DeserializeSeed<'de> for KindName {
    type Value = DetectorSpec;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<DetectorSpec, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KindName {
    type Value = DetectorSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a detector kind")
    }

    fn visit_str<E: de::Error>(self, kind: &str) -> Result<DetectorSpec, E> {
        DetectorSpec::default_for(kind)
            .ok_or_else(|| E::unknown_variant(kind, &DetectorSpec::NAMES))
    }
}

/// Passes a mapping through, noting where each key was written.
struct RecordingMap<'k, A> {
    inner: A,
    keys: &'k mut Vec<(String, Loc)>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RecordingMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.inner.next_key::<Located<String>>()? else {
            return Ok(None);
        };
        self.keys.push((key.value.clone(), key.at));
        seed.deserialize(key.value.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// Checks the documented bounds of every parameter of `entry` (read at `at`) and, since
/// the ensemble's threshold is derived from the rule's sensitivity, that it is not set.
pub(crate) fn check(entry: &Located<DetectorEntry>, report: &mut Report<'_>) {
    let mut problems = Problems::default();
    let kind = entry.value.spec.name();
    match &entry.value.spec {
        DetectorSpec::Ewma(p) => ewma(p, "", &mut problems),
        DetectorSpec::RobustZ(p) => robust_z(p, "", &mut problems),
        DetectorSpec::Seasonal(p) => seasonal(p, "", &mut problems),
        DetectorSpec::ChangePoint(p) => change_point(p, "", &mut problems),
        DetectorSpec::Ensemble(p) => {
            if let Some(at) = entry.value.param_at("threshold") {
                report.error(
                    at,
                    "the ensemble's `threshold` is derived from the rule's sensitivity",
                    Some("remove it and set `sensitivity` (threshold = 1 − sensitivity)".into()),
                );
            }
            ensemble(p, &mut problems);
        }
    }
    for Problem { path, message } in problems.0 {
        let top = path.split(['.', '[']).next().unwrap_or_default();
        let at = entry.value.param_at(top).unwrap_or(entry.at);
        report.error(at, format!("{kind} detector: {message}"), None);
    }
}

struct Problem {
    path: String,
    message: String,
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn within<T: PartialOrd + fmt::Display>(&mut self, path: String, value: T, lo: T, hi: T) {
        if !(lo <= value && value <= hi) {
            let message = format!("`{path}` is {value}, outside its bounds {lo} ..= {hi}");
            self.0.push(Problem { path, message });
        }
    }

    fn within_duration(&mut self, path: String, value: Duration, lo: Duration, hi: Duration) {
        if !(lo <= value && value <= hi) {
            let (value, lo, hi) = (
                duration::format(value),
                duration::format(lo),
                duration::format(hi),
            );
            let message = format!("`{path}` is {value}, outside its bounds {lo} ..= {hi}");
            self.0.push(Problem { path, message });
        }
    }

    fn push(&mut self, path: String, message: String) {
        self.0.push(Problem { path, message });
    }
}

const SECOND: Duration = Duration::from_secs(1);
const DAY: Duration = Duration::from_secs(86_400);
/// `faultline_detectors::seasonal::MAX_BINS`, which that crate does not export.
const MAX_PHASES: u128 = 1024;
const MAX_PERIODS: usize = 4;
const MAX_WARMUP: u32 = 100_000;

fn ewma(p: &EwmaParams, prefix: &str, out: &mut Problems) {
    out.within_duration(format!("{prefix}half_life"), p.half_life, SECOND, 365 * DAY);
    out.within(format!("{prefix}threshold"), p.threshold, 1.0, 100.0);
    out.within(format!("{prefix}warmup"), p.warmup, 2, MAX_WARMUP);
}

fn robust_z(p: &RobustZParams, prefix: &str, out: &mut Problems) {
    out.within(format!("{prefix}window"), p.window, 8, 65_536);
    out.within(format!("{prefix}threshold"), p.threshold, 1.0, 100.0);
    // Against a window out of bounds, the warmup's bound would only add noise.
    if (8..=65_536).contains(&p.window) {
        out.within(format!("{prefix}warmup"), p.warmup, 2, p.window);
    }
}

fn seasonal(p: &SeasonalParams, prefix: &str, out: &mut Problems) {
    if p.periods.len() > MAX_PERIODS {
        let n = p.periods.len();
        out.push(
            format!("{prefix}periods"),
            format!("`{prefix}periods` lists {n} periods, at most {MAX_PERIODS} are used"),
        );
    }
    if p.bin.is_zero() {
        out.push(
            format!("{prefix}bin"),
            format!("`{prefix}bin` must be more than 0s"),
        );
    } else {
        for (i, period) in p.periods.iter().enumerate() {
            let phases = period.as_millis() / p.bin.as_millis().max(1);
            if !(1..=MAX_PHASES).contains(&phases) {
                let (period, bin) = (duration::format(*period), duration::format(p.bin));
                out.push(
                    format!("{prefix}periods[{i}]"),
                    format!(
                        "period {period} with a bin of {bin} has {phases} phases, \
                         it needs 1 ..= {MAX_PHASES}"
                    ),
                );
            }
        }
    }
    let level = format!("{prefix}level_half_life");
    out.within_duration(level, p.level_half_life, SECOND, 30 * DAY);
    out.within(format!("{prefix}profile_rate"), p.profile_rate, 0.001, 1.0);
    out.within(format!("{prefix}threshold"), p.threshold, 1.0, 100.0);
    out.within(format!("{prefix}warmup"), p.warmup, 2, MAX_WARMUP);
}

fn change_point(p: &ChangePointParams, prefix: &str, out: &mut Problems) {
    let baseline = format!("{prefix}baseline_half_life");
    out.within_duration(baseline, p.baseline_half_life, SECOND, 365 * DAY);
    out.within(format!("{prefix}drift"), p.drift, 0.0, 10.0);
    out.within(format!("{prefix}threshold"), p.threshold, 1.0, 1000.0);
    out.within(format!("{prefix}warmup"), p.warmup, 2, MAX_WARMUP);
}

fn ensemble(p: &EnsembleParams, out: &mut Problems) {
    for (i, member) in p.ewma.iter().enumerate() {
        ewma(member, &format!("ewma[{i}]."), out);
    }
    if let Some(member) = &p.robust_z {
        robust_z(member, "robust_z.", out);
    }
    if let Some(member) = &p.seasonal {
        seasonal(member, "seasonal.", out);
    }
    if let Some(member) = &p.change_point {
        change_point(member, "change_point.", out);
    }
    let members = p.ewma.len()
        + usize::from(p.robust_z.is_some())
        + usize::from(p.seasonal.is_some())
        + usize::from(p.change_point.is_some());
    if members == 0 {
        out.push(String::new(), "the ensemble has no members".into());
    }
    let half_life = p.calibration_half_life;
    out.within("calibration_half_life".into(), half_life, 100, 1_000_000);
    out.within("surprise_scale".into(), p.surprise_scale, 0.5, 50.0);
    out.within("refractory".into(), p.refractory, 0, 100_000);
    out.within("warmup".into(), p.warmup, 0, 100_000);
}
