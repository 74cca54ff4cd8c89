use super::*;

/// Panics unless `svg` is well-formed XML: one root element, tags balanced and nested, attribute
/// values quoted and unique, no `<` in text or values, every `&` a known entity reference.
fn assert_well_formed(svg: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let (mut rest, mut roots) = (svg, 0);
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt]);
        assert!(!stack.is_empty() || rest[..lt].trim().is_empty(), "text outside the root: {:?}", &rest[..lt]);
        rest = &rest[lt + 1..];
        let mut quote = None;
        let gt = rest
            .char_indices()
            .find(|&(_, c)| {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    _ => {}
                }
                quote.is_none() && c == '>'
            })
            .map(|(i, _)| i)
            .expect("a tag without its `>`");
        let tag = &rest[..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.trim()), "closing tag </{name}>");
            continue;
        }
        assert!(!tag.starts_with('?') && !tag.starts_with('!'), "unexpected <{tag}>");
        let (body, empty) = match tag.strip_suffix('/') {
            Some(body) => (body, true),
            None => (tag, false),
        };
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = &body[..name_end];
        assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "tag <{tag}>");
        check_attributes(&body[name_end..]);
        if stack.is_empty() {
            roots += 1;
        }
        if !empty {
            stack.push(name);
        }
    }
    assert!(rest.trim().is_empty() && stack.is_empty() && roots == 1, "unclosed {stack:?}, {roots} roots");
}

fn check_attributes(mut attrs: &str) {
    let mut names = Vec::new();
    while !attrs.trim().is_empty() {
        attrs = attrs.trim_start();
        let eq = attrs.find('=').unwrap_or_else(|| panic!("an attribute without a value: {attrs}"));
        let name = attrs[..eq].trim();
        assert!(!names.contains(&name), "attribute {name} twice");
        names.push(name);
        let quote = attrs[eq + 1..].chars().next().unwrap();
        assert!(quote == '"' || quote == '\'', "unquoted attribute {name}");
        let value_start = eq + 2;
        let len = attrs[value_start..].find(quote).expect("an unterminated attribute value");
        check_text(&attrs[value_start..value_start + len]);
        attrs = &attrs[value_start + len + 1..];
    }
}

fn check_text(text: &str) {
    assert!(!text.contains('<'), "`<` in {text:?}");
    assert!(!text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')), "a control in {text:?}");
    for (i, _) in text.match_indices('&') {
        let entity = &text[i + 1..i + 1 + text[i..].find(';').expect("`&` without `;`") - 1];
        let numeric = entity.strip_prefix('#').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        assert!(numeric || ["amp", "lt", "gt", "quot", "apos"].contains(&entity), "entity &{entity};");
    }
}

fn panel(title: &str, tokens: &[&str], weights: Vec<f32>) -> AttentionPanel {
    let tokens: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    AttentionPanel { title: title.into(), rows: tokens.clone(), cols: tokens, weights }
}

/// Causal, uniform over the visible keys.
fn causal(n: usize) -> Vec<f32> {
    (0..n * n).map(|i| if i % n <= i / n { 1.0 / (i / n + 1) as f32 } else { 0.0 }).collect()
}

/// Every panel's `(title, x, y)`.
fn panels_of(svg: &str) -> Vec<(String, f64, f64)> {
    svg.split(r#"<g class="panel" data-title=""#)
        .skip(1)
        .map(|s| {
            let title = s.split('"').next().unwrap().to_string();
            let at = s.split("translate(").nth(1).unwrap().split(')').next().unwrap();
            let (x, y) = at.split_once(' ').unwrap();
            (title, x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

fn distinct(v: impl Iterator<Item = f64>) -> usize {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.len()
}

#[test]
fn weights_that_do_not_match_the_labels_are_refused() {
    let bad = AttentionPanel {
        title: "layer 0 head 1".into(),
        rows: vec!["a".into(), "b".into()],
        cols: vec!["x".into(), "y".into(), "z".into()],
        weights: vec![0.5; 5],
    };
    let ok = panel("fine", &["a"], vec![1.0]);
    let err = attention_map_svg("t", &[ok, bad], 2).unwrap_err().to_string();
    for part in ["panel 1", "`layer 0 head 1`", "5 weights", "2 rows × 3 columns", "6 expected"] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
    assert!(attention_map_svg("t", &[], 1).unwrap_err().to_string().contains("no panels"));
}

#[test]
fn tokens_and_titles_are_escaped_and_whitespace_is_visible() {
    let tokens = ["<", "&", "\"q\"", "'", " ", "\n", "a\tb", "", "\u{1b}", "supercalifragilistic"];
    let svg = attention_map_svg("attention <of> \"x\" & y", &[panel("h<0>", &tokens, causal(10))], 1).unwrap();
    assert_well_formed(&svg);
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    assert!(svg.contains("attention &lt;of&gt; &quot;x&quot; &amp; y") && svg.contains(r#"data-title="h&lt;0&gt;""#));
    for label in ["&lt;", "&amp;", "&quot;q&quot;", "&apos;", "␣", "⏎", "a⇥b", "∅", "␛", "supercalifragil…"]
    {
        // Each token labels a row and a column.
        assert_eq!(svg.matches(&format!(">{label}</text>")).count(), 2, "label {label:?} in {svg}");
    }
}

#[test]
fn panels_are_laid_out_in_a_grid() {
    let panels: Vec<AttentionPanel> = (0..2)
        .flat_map(|l| (0..3).map(move |h| panel(&format!("layer {l} head {h}"), &["a", "b", "c"], causal(3))))
        .collect();
    let svg = attention_map_svg("grid", &panels, 3).unwrap();
    assert_well_formed(&svg);
    let found = panels_of(&svg);
    let titles: Vec<&str> = found.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        ["layer 0 head 0", "layer 0 head 1", "layer 0 head 2", "layer 1 head 0", "layer 1 head 1", "layer 1 head 2"]
    );
    assert_eq!(distinct(found.iter().map(|p| p.1)), 3, "columns: {found:?}");
    assert_eq!(distinct(found.iter().map(|p| p.2)), 2, "rows: {found:?}");
    // Panel (1, 2) is right of (0, 1) and below it.
    assert!(found[5].1 > found[1].1 && found[5].2 > found[1].2);
    // One colour scale; 6 nonzero cells of 3 × 3 per panel (the upper triangle is blank).
    assert_eq!(svg.matches("<linearGradient").count(), 1);
    assert_eq!(svg.matches("<rect").count(), 2 + 6 * (2 + 6));
    assert_eq!(distinct(panels_of(&attention_map_svg("g", &panels, 0).unwrap()).iter().map(|p| p.1)), 1);
    let one_row = panels_of(&attention_map_svg("g", &panels, 99).unwrap());
    assert_eq!((distinct(one_row.iter().map(|p| p.1)), distinct(one_row.iter().map(|p| p.2))), (6, 1));
}

#[test]
fn long_sequences_shrink_cells_and_labels_to_a_minimum() {
    let tokens: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let svg = attention_map_svg("long", &[panel("p", &refs, causal(200))], 1).unwrap();
    assert_well_formed(&svg);
    assert!(svg.contains(r#"width="6" height="6""#) && svg.contains(r#"<g font-size="5.0">"#));
    assert_eq!(svg.matches(r#"width="6" height="6""#).count(), 200 * 201 / 2);
    let width: f64 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    assert!((1200.0..1500.0).contains(&width), "{width}");
    // A few tokens: big cells, a 12-pixel font.
    let small = attention_map_svg("short", &[panel("p", &["a", "b"], causal(2))], 1).unwrap();
    assert!(small.contains(r#"width="28" height="28""#) && small.contains(r#"<g font-size="12.0">"#));
}

#[test]
fn weights_are_shaded_and_non_finite_ones_coloured_apart() {
    let p = panel("p", &["a", "b"], vec![1.0, f32::NAN, 0.25, f32::INFINITY]);
    let svg = attention_map_svg("nan", &[p], 1).unwrap();
    assert_well_formed(&svg);
    assert_eq!(svg.matches(NOT_FINITE).count(), 3, "two cells and the legend: {svg}");
    assert!(svg.contains("not finite") && !svg.contains("NaN") && !svg.contains("inf<"));
    assert!(svg.contains(&format!(r#"fill="{}""#, shade(1.0).0)) && svg.contains(&shade(0.25).0));
    let clean = attention_map_svg("ok", &[panel("p", &["a"], vec![1.0])], 1).unwrap();
    assert!(!clean.contains("not finite"));
}

#[test]
fn written_atomically() {
    let dir = std::env::temp_dir().join(format!("tessera-attention-map-{}", std::process::id()));
    crate::fs::create_dir(&dir).unwrap();
    let path = dir.join("attention.svg");
    let panels = [panel("p", &["a", "b"], causal(2))];
    write_attention_map(&path, "t", &panels, 1).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), attention_map_svg("t", &panels, 1).unwrap());
    assert!(write_attention_map(&dir.join("missing/x.svg"), "t", &panels, 1).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_checker_catches_malformed_xml() {
    for bad in [
        "<svg><g></svg>",
        "<svg>a < b</svg>",
        "<svg a=1/>",
        "<svg>&nbsp;</svg>",
        "<svg/><svg/>",
        "<svg a=\"1\" a=\"2\"/>",
    ] {
        assert!(std::panic::catch_unwind(|| assert_well_formed(bad)).is_err(), "{bad} passed");
    }
    assert_well_formed("<svg a=\"x &amp; 'y'\"><g>&lt;&#8203;</g></svg>");
}
