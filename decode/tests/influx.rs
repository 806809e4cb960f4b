//! Influx line protocol as Telegraf writes it.

use std::borrow::Cow;

use faultline_decode::{DecodeError, Format, ItemError, Kind, Sample, decode};

mod common;

fn samples(payload: &[u8]) -> Result<Vec<Result<Sample<'_>, ItemError>>, DecodeError> {
    common::samples(Format::Influx, payload)
}

fn show(sample: &Sample<'_>) -> String {
    let labels: Vec<_> = sample
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{}{{{}}} {}", sample.name, labels.join(","), sample.value)
}

fn shown(payload: &[u8]) -> Vec<String> {
    samples(payload)
        .unwrap()
        .iter()
        .map(|r| match r {
            Ok(sample) => show(sample),
            Err(err) => format!("error {}: {}", err.index, err.reason),
        })
        .collect()
}

#[test]
fn decodes_a_telegraf_batch() {
    let all = samples(include_bytes!("fixtures/influx/telegraf.lp")).unwrap();
    assert!(
        all.iter()
            .all(|s| s.as_ref().unwrap().at.as_millis() == 1_714_557_600_000)
    );
    let shown: Vec<_> = all.iter().map(|s| show(s.as_ref().unwrap())).collect();
    let expected = [
        "cpu_usage_guest{cpu=cpu-total,host=web-1} 0",
        "cpu_usage_idle{cpu=cpu-total,host=web-1} 97.8",
        "cpu_usage_iowait{cpu=cpu-total,host=web-1} 0.25",
        "cpu_usage_system{cpu=cpu-total,host=web-1} 0.7",
        "cpu_usage_user{cpu=cpu-total,host=web-1} 1.25",
        "mem_active{host=web-1} 3221225472",
        "mem_available{host=web-1} 6442450944",
        "mem_available_percent{host=web-1} 75",
        "mem_total{host=web-1} 8589934592",
        "mem_used_percent{host=web-1} 25.00001",
        "disk_free{device=nvme0n1p1,fstype=ext4,host=web-1,mode=rw,path=/} 40000000000",
        "disk_inodes_used{device=nvme0n1p1,fstype=ext4,host=web-1,mode=rw,path=/} 312000",
        "disk_used_percent{device=nvme0n1p1,fstype=ext4,host=web-1,mode=rw,path=/} 42.1",
        "system_load1{host=web-1} 0.52",
        "system_load15{host=web-1} 0.31",
        "system_load5{host=web-1} 0.4",
        "system_n_cpus{host=web-1} 4",
        "system_n_users{host=web-1} 1",
        // The `uptime_format` line has only a string field: no sample, and no error.
        "net_bytes_recv{host=web-1,interface=eth0} 123456789",
        "net_drop_in{host=web-1,interface=eth0} 0",
        "net_err_in{host=web-1,interface=eth0} 0",
        "procstat_running{host=web-1,process_name=nginx,user=www-data} 1",
        "procstat_pid{host=web-1,process_name=nginx,user=www-data} 812",
        "win_perf_counters_Percent_Free_Space{host=WIN 01,instance=C:,objectname=LogicalDisk} 61.5",
        "node_load1{host=web-1,url=http://localhost:9100/metrics} 0.52",
        "go_goroutines{host=web-1,url=http://localhost:9100/metrics} 8",
    ];
    assert_eq!(shown, expected);
    // Tags borrow from the payload; names join measurement and field, except for `prometheus`.
    let cpu = all[0].as_ref().unwrap();
    assert!(
        cpu.labels
            .as_slice()
            .iter()
            .all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_))))
    );
    assert!(matches!(
        all[24].as_ref().unwrap().name,
        Cow::Borrowed("node_load1")
    ));
}

#[test]
fn unescapes_measurements_tags_and_field_keys() {
    let payload = br#"my\ meas\,ure,ta\=g=v\ a\,l\"ue f\=i\ eld=1,s="quo\"ted, \\ text=x" 1000000"#;
    assert_eq!(shown(payload), [r#"my meas,ure_f=i eld{ta=g=v a,l"ue} 1"#]);
}

#[test]
fn resumes_on_the_line_after_a_bad_one() {
    let payload = b"cpu,host=a usage=1 1000000\ncpu,host=a usage=oops 1000000\ncpu,host=a usage=3 3000000\r\n";
    assert_eq!(
        shown(payload),
        [
            "cpu_usage{host=a} 1",
            "error 1: invalid field value at line 2 column 18",
            "cpu_usage{host=a} 3"
        ]
    );
}

#[test]
fn rejects_lines_that_cannot_be_used() {
    let payload = b"# comment\n\n  \ncpu usage=1\ncpu usage=1e999 1\ncpu usage=1 -1000000\ncpu,a=1,a=2 usage=1 1\ncpu usage=1 99999999999999999999\ncpu usage=2 1";
    assert_eq!(
        shown(payload),
        [
            "error 3: missing timestamp at line 4 column 11",
            "error 4: field `usage` is not finite at line 5 column 11",
            "error 5: timestamp before 1970 at line 6 column 13",
            "error 6: duplicate label `a` at line 7 column 9",
            "error 7: timestamp out of range at line 8 column 13",
            "cpu_usage{} 2",
        ]
    );
}

#[test]
fn reports_syntax_errors_by_line() {
    let lines = [
        (
            "cpu",
            "expected a space and fields after the measurement and tags at line 1 column 4",
        ),
        (",a=b f=1 1", "expected a measurement at line 1 column 1"),
        (
            "cpu,a f=1 1",
            "expected `=` after a tag key at line 1 column 6",
        ),
        ("cpu,a= f=1 1", "expected a tag value at line 1 column 7"),
        (
            "cpu f 1",
            "expected `=` after a field key at line 1 column 6",
        ),
        (
            "cpu f=\"open 1",
            "unterminated string field at line 1 column 7",
        ),
        (
            "cpu f=1 12ab",
            "expected a timestamp in nanoseconds at line 1 column 9",
        ),
        (
            "cpu f=1 1 extra",
            "expected `,`, a space or the end of the line at line 1 column 11",
        ),
    ];
    for (line, reason) in lines {
        let payload = format!("cpu ok=1 1\n{line}");
        let all = samples(payload.as_bytes()).unwrap();
        let err = all[1].as_ref().unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(err.reason, reason.replace("line 1", "line 2"), "{line}");
    }
}

#[test]
fn a_record_with_no_readable_line_is_unreadable() {
    let mut calls = 0;
    let err = decode(Format::Influx, Kind::Metrics, b"hello\nworld", &mut |_| {
        calls += 1
    })
    .unwrap_err();
    assert_eq!(calls, 0);
    assert_eq!(
        err.to_string(),
        "influx: expected a space and fields after the measurement and tags at line 1 column 6"
    );
    assert_eq!(samples(b"# only a comment\n").unwrap(), []);
    assert_eq!(
        samples(b"\n").unwrap_err(),
        DecodeError::Empty {
            format: Format::Influx
        }
    );
    let err = samples(b"cpu f=\xff 1").unwrap_err();
    assert_eq!(
        err,
        DecodeError::InvalidUtf8 {
            format: Format::Influx,
            offset: 6
        }
    );
}

#[test]
fn carries_only_metrics() {
    let err = decode(Format::Influx, Kind::Logs, b"cpu f=1 1", &mut |_| {}).unwrap_err();
    assert_eq!(err.to_string(), "influx cannot carry logs");
}
