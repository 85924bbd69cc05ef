//! "Did you mean …?" for names the user mistyped: one rule for the manifest, the flow checker
//! and the engine's document loader.

/// The closest candidate, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_typos_only() {
        let names = ["ReserveAvailability", "ProcessPayment"];
        assert_eq!(
            did_you_mean("ReserveAvailabilty", names),
            Some("ReserveAvailability")
        );
        assert_eq!(did_you_mean("Zebra", names), None);
    }
}
