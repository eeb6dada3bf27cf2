//! clap's errors on one line, keeping what clap names (the missing or
//! conflicting arguments), for the contract's one-line bad-input messages.

/// The error's message without its usage block: the first line plus the
/// indented lines clap lists under it, joined by spaces, without `error: `.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = if lines.is_empty() {
        "invalid arguments".to_owned()
    } else {
        lines.join(" ")
    };
    joined.trim_start_matches("error: ").to_owned()
}
