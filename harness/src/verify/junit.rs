//! JUnit XML for CI dashboards: one testsuite per scenario, one testcase
//! per guarantee. Violated → `<failure>` with the violating rows; unknown →
//! `<error>` (the check could not decide: an infrastructure problem, not a
//! pass, so it must not hide as `<skipped>`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use super::{Judgement, Verdict};
use crate::error::Result;

/// Text and attribute values: the five XML entities, and characters XML
/// 1.0 cannot carry at all (most control characters) as U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept literal in text, but attributes would normalise them away.
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(judgements: &[Judgement]) -> String {
    let count = |js: &[&Judgement], v: Verdict| js.iter().filter(|j| j.verdict == v).count();
    let all: Vec<&Judgement> = judgements.iter().collect();
    let mut suites: BTreeMap<&str, Vec<&Judgement>> = BTreeMap::new();
    for j in judgements {
        suites.entry(j.scenario.as_str()).or_default().push(j);
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"mistake-cost verify\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">",
        all.len(),
        count(&all, Verdict::Violated),
        count(&all, Verdict::Unknown)
    );
    for (scenario, js) in suites {
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">",
            escape(scenario),
            js.len(),
            count(&js, Verdict::Violated),
            count(&js, Verdict::Unknown)
        );
        for j in js {
            let _ = write!(
                x,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&j.scenario),
                escape(&j.guarantee.name)
            );
            let body = |rows: &[super::RowEvidence]| -> String {
                let mut lines: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
                lines.extend(j.notes.iter().cloned());
                escape(&lines.join("\n")).replace("&#10;", "\n")
            };
            match j.verdict {
                Verdict::Holds => {
                    let _ = writeln!(
                        x,
                        ">\n      <system-out>{}</system-out>\n    </testcase>",
                        escape(&format!("{}: {}", j.claim(), j.evidence_summary(0)))
                    );
                }
                Verdict::Violated => {
                    let _ = writeln!(
                        x,
                        ">\n      <failure type=\"violated\" message=\"{}\">{}</failure>\n    </testcase>",
                        escape(&format!("{}: {}/{} rows hold, {} violate", j.claim(), j.counts.holding, j.counts.total(), j.counts.violating)),
                        body(&j.violating)
                    );
                }
                Verdict::Unknown => {
                    let _ = writeln!(
                        x,
                        ">\n      <error type=\"unknown\" message=\"{}\">{}</error>\n    </testcase>",
                        escape(&format!("{}: not decided: {}", j.claim(), j.evidence_summary(0))),
                        body(&j.unknown)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Through a temp file and a rename: CI never reads half a report.
pub fn write(path: &Path, judgements: &[Judgement]) -> Result<()> {
    crate::export::write_atomic(path, &render(judgements))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Counts, Expect, Guarantee, RowEvidence, Share, Source};

    fn judgement(name: &str, verdict: Verdict, violating: usize, unknown: usize) -> Judgement {
        let row = |why: Option<&str>| RowEvidence {
            approach: "apt".into(),
            which: "rep 0".into(),
            fault: "none".into(),
            column: "recovered",
            value: "false".into(),
            at: "trials.csv:3".into(),
            why: why.map(str::to_owned),
        };
        Judgement {
            scenario: "fail<&>".into(),
            guarantee: Guarantee {
                name: name.into(),
                approaches: vec![crate::approach::kind("apt")],
                source: Source::Trials,
                expect: Expect::parse("recovered == true", Source::Trials).unwrap(),
                share: Share::All,
                when: Vec::new(),
            },
            verdict,
            counts: Counts {
                holding: 1,
                violating,
                unknown,
            },
            violating: (0..violating).map(|_| row(None)).collect(),
            unknown: (0..unknown)
                .map(|_| row(Some("errored: \"boom\" <\u{1b}[31m> & 'x'\n2nd line")))
                .collect(),
            notes: vec![],
        }
    }

    #[test]
    fn parses_and_counts() {
        let js = vec![
            judgement("holds \"quoted\"", Verdict::Holds, 0, 0),
            judgement("violated <tag> & more", Verdict::Violated, 2, 0),
            judgement("unknown", Verdict::Unknown, 0, 1),
            Judgement {
                scenario: "other".into(),
                ..judgement("also holds", Verdict::Holds, 0, 0)
            },
        ];
        let text = render(&js);
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(
            (
                root.attribute("tests"),
                root.attribute("failures"),
                root.attribute("errors")
            ),
            (Some("4"), Some("1"), Some("1"))
        );
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 2);
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 4);
        assert_eq!(cases[0].attribute("classname"), Some("fail<&>"));
        let violated = cases
            .iter()
            .find(|c| c.attribute("name") == Some("violated <tag> & more"))
            .unwrap();
        let failure = violated
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.text().unwrap().lines().count(),
            2,
            "one line per violating row"
        );
        assert!(failure
            .text()
            .unwrap()
            .contains("apt rep 0 (fault none): recovered = false [trials.csv:3]"));
        let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert!(
            error
                .text()
                .unwrap()
                .contains("\"boom\" <\u{FFFD}[31m> & 'x'\n2nd line"),
            "{:?}",
            error.text()
        );
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("skipped"))
                .count(),
            0
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_survives_as_attribute_and_text(s in "\\PC*|[\\x00-\\x20<>&'\"\\u{FFFE}\\u{FFFF}]*") {
            let xml = format!("<a b=\"{}\">{}</a>", escape(&s), escape(&s));
            let doc = roxmltree::Document::parse(&xml).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}: {xml}")))?;
            let want: String = s
                .chars()
                .map(|c| if ((c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}' { '\u{FFFD}' } else { c })
                .collect();
            proptest::prop_assert_eq!(doc.root_element().attribute("b"), Some(want.as_str()));
            proptest::prop_assert_eq!(doc.root_element().text().unwrap_or(""), want.as_str());
        }
    }

    #[test]
    fn writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("verify.xml");
        write(&p, &[judgement("x", Verdict::Holds, 0, 0)]).unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().contains("<testcase"));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
