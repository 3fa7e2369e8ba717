//! The report's "Set-up" section: the security profile every container of
//! the run shared, how each approach was configured, and the tool versions
//! and image ids read from the images — so a figure is never read without
//! the conditions that produced it.

use std::collections::BTreeSet;

use super::{Block, RunMeta};

pub fn blocks(meta: Option<&RunMeta>) -> Vec<Block> {
    let mut doc = vec![Block::Heading("Set-up".into())];
    let Some(meta) = meta else {
        doc.push(Block::Para("run.json not found: the security profile, the approaches' configuration and the tool versions are unknown.".into()));
        return doc;
    };
    doc.push(Block::Para(match (&meta.security_profile, &meta.security_profile_detail) {
        (Some(p), Some(d)) => {
            let d = d.strip_prefix(&format!("{p}: ")).unwrap_or(d);
            format!("Security profile `{p}`, shared by every container of the run: {d}.")
        }
        (Some(p), None) => format!("Security profile `{p}`, shared by every container of the run."),
        _ => "Security profile unknown: run.json predates its recording (such runs used Docker's defaults and a single-user Nix as `nix`)."
            .into(),
    }));
    if !meta.approaches.is_empty() {
        let mut rows: Vec<Vec<String>> = meta
            .approaches
            .iter()
            .map(|(a, c)| vec![format!("`{a}`"), c.clone()])
            .collect();
        rows.sort_by_key(|r| super::approach_order(r[0].trim_matches('`')));
        doc.push(Block::Table {
            head: vec!["approach".into(), "configured as".into()],
            rows,
        });
    }
    let Some(env) = &meta.environment else {
        doc.push(Block::Para(
            "Tool versions unknown: run.json predates their recording.".into(),
        ));
        return doc;
    };
    let families: Vec<&String> = env.versions.keys().collect();
    let tools: BTreeSet<&String> = env.versions.values().flat_map(|v| v.keys()).collect();
    if !tools.is_empty() {
        let mut head = vec!["tool".to_string()];
        head.extend(families.iter().map(|f| format!("{f} image")));
        let rows = tools
            .iter()
            .map(|t| {
                let mut r = vec![t.to_string()];
                r.extend(families.iter().map(|f| {
                    env.versions[*f]
                        .get(*t)
                        .cloned()
                        .unwrap_or_else(|| "—".into())
                }));
                r
            })
            .collect();
        doc.push(Block::Table { head, rows });
    }
    let mut facts = Vec::new();
    if !env.base_image.is_empty() {
        facts.push(format!(
            "Base image `{}`, id `{}`: every family image derives from it.",
            env.base_image,
            short_id(&env.base_image_id)
        ));
    }
    for (family, image) in &env.images {
        facts.push(format!(
            "{family} image `{}`, id `{}`.",
            image.name,
            short_id(&image.id)
        ));
    }
    match env.pip_legacy_setup_py_install {
        Some(true) => facts.push(
            "pip takes the legacy `setup.py install` path for an sdist without pyproject.toml, which the pip scenarios' failures rely on.".into(),
        ),
        Some(false) => facts.push(
            "pip does **not** take the legacy `setup.py install` path (removed in pip 23.1): the pip scenarios measure a build in an isolated \
             environment instead of what scenarios/README.md describes."
                .into(),
        ),
        None => {}
    }
    facts.extend(env.warnings.iter().map(|w| format!("Warning: {w}")));
    if !facts.is_empty() {
        doc.push(Block::List(facts));
    }
    doc
}

/// `sha256:493d6ad30c8c…` → `493d6ad30c8c` (Docker's short form).
fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_run_json_says_what_is_unknown() {
        let text = |doc: &[Block]| format!("{doc:?}");
        assert!(text(&blocks(None)).contains("run.json not found"));
        let old = RunMeta {
            run_id: Some("x".into()),
            ..Default::default()
        };
        let t = text(&blocks(Some(&old)));
        assert!(t.contains("Security profile unknown"), "{t}");
        assert!(t.contains("Tool versions unknown"), "{t}");
    }

    #[test]
    fn versions_table_has_a_column_per_image_and_a_dash_for_missing_tools() {
        let meta: RunMeta = serde_json::from_str(
            r#"{"security_profile":"default","security_profile_detail":"Docker's defaults",
                "approaches":{"nix":"multi-user","apt":"apt-get"},
                "environment":{"base_image":"b","base_image_id":"sha256:0123456789abcdef","images":{},
                  "versions":{"apt":{"dpkg":"1.21"},"nix":{"dpkg":"1.21","nix":"2.8.0"}},
                  "pip_legacy_setup_py_install":false,"warnings":["w1"]}}"#,
        )
        .unwrap();
        let doc = blocks(Some(&meta));
        let tables: Vec<&Block> = doc
            .iter()
            .filter(|b| matches!(b, Block::Table { .. }))
            .collect();
        let Block::Table { rows, .. } = tables[0] else {
            unreachable!()
        };
        assert_eq!(rows[0][0], "`apt`", "approaches in the registry's order");
        let Block::Table { head, rows } = tables[1] else {
            unreachable!()
        };
        assert_eq!(head, &["tool", "apt image", "nix image"]);
        assert_eq!(rows[1], vec!["nix", "—", "2.8.0"]);
        let t = format!("{doc:?}");
        assert!(
            t.contains("`0123456789ab`") && t.contains("does **not**") && t.contains("Warning: w1"),
            "{t}"
        );
    }
}
