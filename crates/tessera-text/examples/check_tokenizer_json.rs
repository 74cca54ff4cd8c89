//! Encodes the texts of a `[{"text": .., "ids": [..]}]` JSON file with a tokenizer.json and
//! reports every text whose ids differ.
//!
//! `cargo run -p tessera-text --example check_tokenizer_json -- tokenizer.json cases.json`

use tessera_text::ByteLevelBpe;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tokenizer, cases] = args.as_slice() else {
        return Err("usage: check_tokenizer_json TOKENIZER.json CASES.json".into());
    };
    let tok = ByteLevelBpe::from_tokenizer_json(tokenizer)?;
    let cases: serde_json::Value = serde_json::from_str(&tessera_text::io::read_text(cases)?)?;
    let mut bad = 0;
    let list = cases.as_array().ok_or("cases must be a JSON array")?;
    for case in list {
        let text = case["text"].as_str().ok_or("case without text")?;
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone())?;
        let got = tok.encode(text);
        if got != want {
            bad += 1;
            println!("differs: {text:?}\n  ours {got:?}\n  want {want:?}");
        }
    }
    println!("{} cases, {bad} differ", list.len());
    if bad > 0 {
        std::process::exit(1);
    }
    Ok(())
}
