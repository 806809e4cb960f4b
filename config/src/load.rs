//! Reading files, merging them, and collecting every problem of every file.
//!
//! Files are read independently (one file failing to parse does not stop the others from
//! being checked), then merged: each section may come from one file only, and `rules` are
//! concatenated in file order. A file is deserialized twice: once into the model, once for
//! the positions of its top-level keys, which the model does not keep.

use std::collections::HashMap;
use std::path::Path;

use crate::compile::{self, DEFAULT_RULE_NAME};
use crate::config::Config;
use crate::diagnostics::{Diagnostic, Diagnostics, Loc, Located, Report, from_yaml_error};
use crate::model::{FileModel, RuleModel, TopKeys};
use crate::{incidents, ingest};

/// Reads, checks and merges configuration files, in order.
///
/// Returns every problem found in every file, each as `file:line:column: message`; an
/// empty list of files, like an empty file, gives the all-defaults configuration.
pub fn load_files(paths: &[impl AsRef<Path>]) -> Result<Config, Diagnostics> {
    let mut diagnostics = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        let name = path.as_ref().display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => files.push((name, text)),
            Err(e) => diagnostics.push(Diagnostic {
                file: name,
                line: Loc::START.line,
                column: Loc::START.column,
                message: format!("cannot read the file: {e}"),
                hint: None,
            }),
        }
    }
    load(&files, diagnostics)
}

/// [`load_files`] for one file already in memory; `file_name` is used in diagnostics.
pub fn load_str(file_name: &str, text: &str) -> Result<Config, Diagnostics> {
    load(&[(file_name.to_owned(), text.to_owned())], Vec::new())
}

struct Parsed<'a> {
    file: &'a str,
    model: FileModel,
    keys: Vec<Located<String>>,
}

fn load(
    files: &[(String, String)],
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Config, Diagnostics> {
    let parsed: Vec<Parsed<'_>> = files
        .iter()
        .filter_map(|(file, text)| parse(file, text, &mut diagnostics))
        .collect();
    let config = merge(parsed, &mut diagnostics);
    if diagnostics.is_empty() {
        return Ok(config);
    }
    // Files in the order given, problems in the order they appear in each.
    let order: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, (f, _))| (f.as_str(), i))
        .collect();
    diagnostics.sort_by_key(|d| (order.get(d.file.as_str()).copied(), d.line, d.column));
    Err(Diagnostics(diagnostics))
}

fn parse<'a>(file: &'a str, text: &str, out: &mut Vec<Diagnostic>) -> Option<Parsed<'a>> {
    let options = serde_saphyr::options! { with_snippet: false };
    // `Option`: an empty file (or one holding only comments or `~`) is the empty model.
    let model = serde_saphyr::from_str_with_options::<Option<FileModel>>(text, options.clone())
        .map_err(|e| out.push(from_yaml_error(file, text, &e)))
        .ok()?
        .unwrap_or_default();
    let keys = serde_saphyr::from_str_with_options::<Option<TopKeys>>(text, options)
        .map_err(|e| out.push(from_yaml_error(file, text, &e)))
        .ok()?
        .unwrap_or_default()
        .0;
    Some(Parsed { file, model, keys })
}

/// Sections taken from the first file that has each, everything checked.
fn merge(parsed: Vec<Parsed<'_>>, out: &mut Vec<Diagnostic>) -> Config {
    check_sections_once(&parsed, out);
    let (mut kafka, mut ingest, mut state, mut http, mut log, mut defaults) =
        (None, None, None, None, None, None);
    let (mut correlator, mut topology, mut receivers) = (None, None, None);
    let mut rules: Vec<(&str, RuleModel)> = Vec::new();
    for Parsed { file, model, .. } in parsed {
        let r = &mut Report { file, out };
        // Every occurrence is checked, the first one is used.
        if let Some(s) = model.kafka {
            let c = compile::kafka(Some(s), r);
            kafka.get_or_insert(c);
        }
        if let Some(s) = model.ingest {
            let c = ingest::compile(Some(s), r);
            ingest.get_or_insert(c);
        }
        if let Some(s) = model.state {
            let c = compile::state(Some(s), r);
            state.get_or_insert(c);
        }
        if let Some(s) = model.http {
            let c = compile::http(Some(s), r);
            http.get_or_insert(c);
        }
        if let Some(s) = model.log {
            let c = compile::log(Some(s), r);
            log.get_or_insert(c);
        }
        if let Some(s) = model.defaults {
            let c = compile::defaults(Some(s), r);
            defaults.get_or_insert(c);
        }
        if let Some(s) = model.correlator {
            let c = incidents::correlator(Some(s), r);
            correlator.get_or_insert(c);
        }
        if let Some(s) = model.topology {
            let c = incidents::topology(Some(s), r);
            topology.get_or_insert(c);
        }
        if let Some(s) = model.receivers {
            let c = incidents::receivers(Some(s), r);
            receivers.get_or_insert(c);
        }
        rules.extend(
            model
                .rules
                .unwrap_or_default()
                .into_iter()
                .map(|rule| (file, rule)),
        );
    }
    // Sections no file has: their defaults, which cannot fail.
    let r = &mut Report {
        file: "<defaults>",
        out,
    };
    let kafka = kafka.unwrap_or_else(|| compile::kafka(None, r));
    let ingest = ingest.unwrap_or_else(|| ingest::compile(None, r));
    let state = state.unwrap_or_else(|| compile::state(None, r));
    let http = http.unwrap_or_else(|| compile::http(None, r));
    let log = log.unwrap_or_else(|| compile::log(None, r));
    let defaults = defaults.unwrap_or_else(|| compile::defaults(None, r));
    let correlator = correlator.unwrap_or_else(|| incidents::correlator(None, r));
    let topology = topology.unwrap_or_default();
    let receivers = receivers.unwrap_or_default();
    let rules = compile_rules(rules, &defaults, correlator.quiet_period, out);
    Config {
        correlator,
        topology,
        receivers,
        kafka,
        ingest,
        state,
        http,
        log,
        defaults: defaults.rule,
        rules,
    }
}

fn check_sections_once(parsed: &[Parsed<'_>], out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, (&str, Loc)> = HashMap::new();
    for Parsed { file, keys, .. } in parsed {
        for key in keys.iter().filter(|k| k.value != "rules") {
            match first.get(key.value.as_str()) {
                None => {
                    first.insert(&key.value, (file, key.at));
                }
                Some((first_file, first_at)) => Report { file, out }.error(
                    key.at,
                    format!("section `{}` is already defined in {first_file}", key.value),
                    Some(format!(
                        "first defined at {first_file}:{first_at}; a section may appear in \
                         one file only, except `rules`"
                    )),
                ),
            }
        }
    }
}

/// Rules in file order, their names unique across files, none hidden behind a rule that
/// matches every series.
fn compile_rules(
    models: Vec<(&str, RuleModel)>,
    defaults: &compile::Defaults,
    quiet_period_ms: faultline_correlator::Millis,
    out: &mut Vec<Diagnostic>,
) -> Vec<crate::Rule> {
    let quiet_period =
        std::time::Duration::from_millis(u64::try_from(quiet_period_ms).unwrap_or(0));
    let mut names: HashMap<String, (&str, Loc)> = HashMap::new();
    let mut catch_all: Option<(String, &str, Loc)> = None;
    let mut rules = Vec::with_capacity(models.len());
    for (file, model) in models {
        let mut r = Report { file, out };
        let name = model.name.clone();
        if name.value.trim().is_empty() {
            r.error(name.at, "rule name is empty", None);
        } else if name.value == DEFAULT_RULE_NAME {
            let hint = "`default` names the rule of series no rule matches; pick another name";
            r.error(
                name.at,
                "rule name `default` is reserved",
                Some(hint.into()),
            );
        } else if let Some((first_file, first_at)) = names.get(&name.value) {
            let msg = format!("rule name `{}` is used twice", name.value);
            let hint = format!("first used at {first_file}:{first_at}");
            r.error(name.at, msg, Some(hint));
        } else {
            names.insert(name.value.clone(), (file, name.at));
        }
        if let Some((other, other_file, other_at)) = &catch_all {
            let msg = format!("rule `{}` can never match", name.value);
            let hint = format!(
                "rule `{other}` at {other_file}:{other_at} comes first and matches every series"
            );
            r.error(name.at, msg, Some(hint));
        }
        // As written: a pattern that failed to compile must not make its rule a catch-all.
        let matches_everything = model.matcher.as_ref().is_none_or(|m| {
            m.metric.is_none()
                && m.metric_regex.is_none()
                && m.labels.as_ref().is_none_or(|l| l.is_empty())
        });
        let min_duration_at = model.min_duration.as_ref().map(|w| w.at);
        let rule = compile::rule(model, defaults, &mut r);
        let held = rule.compiled.min_duration;
        if held >= quiet_period {
            // Held that long, an onset reaches the correlator already older than the quiet
            // period behind its clock: too late to open an incident, ever.
            let show = faultline_detectors::duration::format;
            let msg = format!(
                "rule `{}`: min_duration {} is not less than correlator.quiet_period {}",
                name.value,
                show(held),
                show(quiet_period),
            );
            let hint = "its anomalies would never open an incident; shorten min_duration or lengthen the quiet period";
            let at = min_duration_at.unwrap_or(name.at);
            r.error(at, msg, Some(hint.into()));
        }
        if catch_all.is_none() && matches_everything {
            catch_all = Some((name.value, file, name.at));
        }
        rules.push(rule);
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_unreadable_files_and_keeps_checking_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "state: {max_series: 0}\n").unwrap();
        let missing = dir.path().join("missing.yaml");
        let err = load_files(&[&missing, &bad]).unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(
            err.0[0].message.starts_with("cannot read the file"),
            "{err}"
        );
        assert_eq!((err.0[1].line, err.0[1].column), (1, 21), "{err}");
    }

    #[test]
    fn finds_top_level_keys_with_their_positions() {
        let keys = serde_saphyr::from_str::<Option<TopKeys>>("a: 1\n\nb: [x]\n").unwrap();
        let keys: Vec<_> = keys
            .unwrap()
            .0
            .into_iter()
            .map(|k| (k.value, k.at))
            .collect();
        let at = |line, column| Loc { line, column };
        assert_eq!(
            keys,
            [("a".to_owned(), at(1, 1)), ("b".to_owned(), at(3, 1))]
        );
    }
}
