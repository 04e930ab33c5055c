use super::*;

fn sexpr(text: &str) -> String {
    match parse_condition(text) {
        Ok(expr) => to_sexpr(&expr),
        Err(e) => format!("error at {}..{}: {}", e.span.start, e.span.end, e.message),
    }
}

#[test]
fn fixture_conditions_parse() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/acs_rules_top25.yaml"
    ));
    let Ok(text) = text else { return };
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("condition: \"") {
            let cond = rest.trim_end_matches('"');
            println!("{}", sexpr(cond));
            assert!(parse_condition(cond).is_ok(), "{cond}");
        }
    }
}
