//! Properties of the log template miner, whatever a producer sends: restores continue
//! exactly, no string panics it, and its memory stays within the caps.

use faultline_detectors::logs::{MaskParams, Mined, MinerParams, TemplateId, TemplateMiner};
use proptest::prelude::*;

/// Lines that look like logs (shared words, numbers, key=values, paths) mixed with hostile
/// ones: empty, whitespace only, arbitrary Unicode, long runs without a space.
fn line() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "connection",
        "closed",
        "by",
        "user",
        "session",
        "opened",
        "failed",
        "for",
        "from",
        "port",
        "error:",
        "GET",
        "[instance:",
        "took",
        "seconds",
        "bytes",
        "ok",
    ]);
    let token = prop_oneof![
        4 => word.prop_map(str::to_owned),
        2 => any::<u32>().prop_map(|n| n.to_string()),
        1 => "[a-z]{1,6}=[a-z0-9]{0,6}",
        1 => "/[a-z]{1,4}/[a-z0-9]{1,8}",
        1 => "\\PC{0,12}",
    ];
    prop_oneof![
        8 => prop::collection::vec(token, 0..14).prop_map(|t| t.join(" ")),
        1 => "[ \t\r\n]{0,8}",
        1 => "\\PC{0,200}",
        1 => ("[a-z]{1,3}", 100usize..3000).prop_map(|(s, n)| s.repeat(n)),
        1 => (1usize..400).prop_map(|n| "x ".repeat(n)),
    ]
}

fn small_caps() -> MinerParams {
    MinerParams {
        max_templates: 12,
        mask: MaskParams {
            max_tokens: 16,
            max_token_bytes: 24,
            ..MaskParams::default()
        },
        ..MinerParams::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_restored_miner_continues_identically(
        lines in prop::collection::vec(line(), 0..60),
        split in any::<prop::sample::Index>(),
        capped in any::<bool>(),
    ) {
        let params = if capped { small_caps() } else { MinerParams::default() };
        let k = if lines.is_empty() { 0 } else { split.index(lines.len() + 1) };
        let mut whole = TemplateMiner::new(params.clone()).unwrap();
        let mut before = TemplateMiner::new(params).unwrap();
        for l in &lines[..k] {
            prop_assert_eq!(whole.mine(l), before.mine(l));
        }
        let mut after = TemplateMiner::restore(&before.snapshot()).unwrap();
        for l in &lines[k..] {
            prop_assert_eq!(whole.mine(l), after.mine(l));
        }
        prop_assert_eq!(whole.snapshot(), after.snapshot());
    }

    #[test]
    fn any_line_is_mined_within_the_caps(lines in prop::collection::vec(line(), 0..80)) {
        let params = small_caps();
        let mut miner = TemplateMiner::new(params.clone()).unwrap();
        let mut replay = TemplateMiner::new(params.clone()).unwrap();
        // A masked token is at most three times its bytes (`1` → `<*>`), plus a space.
        let max_text = params.mask.max_tokens * (3 * params.mask.max_token_bytes + 1);
        for l in &lines {
            let mined = miner.mine(l);
            prop_assert_eq!(mined, replay.mine(l), "replays give the same ids");
            prop_assert!(miner.len() <= params.max_templates);
            if let Some(id) = mined.id() {
                let text = miner.template(id).unwrap();
                prop_assert!(text.len() <= max_text, "{} bytes", text.len());
                prop_assert!(text.split(' ').count() <= params.mask.max_tokens);
            } else {
                prop_assert_eq!(mined, Mined::Overflow);
            }
        }
        let overflows = lines.len() as u64 - (0..miner.len()).map(|i| miner.count(TemplateId(i as u32))).sum::<u64>();
        prop_assert_eq!(miner.overflows(), overflows, "every line is counted once");
    }
}

#[test]
fn a_megabyte_line_without_spaces_is_one_variable() {
    let mut miner = TemplateMiner::new(MinerParams::default()).unwrap();
    let line = "a".repeat(1 << 20);
    let id = miner.mine(&line).id().unwrap();
    assert_eq!(miner.template(id).unwrap(), "<*>");
    let spaced = "ab ".repeat(1 << 18);
    let id = miner.mine(&spaced).id().unwrap();
    assert_eq!(
        miner.template(id).unwrap().split(' ').count(),
        MinerParams::default().mask.max_tokens
    );
    assert!(miner.state_bytes() < 8 * 1024, "{}", miner.state_bytes());
}
