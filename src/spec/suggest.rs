//! "Did you mean …?": the closest known word to a misspelled one.

/// The candidate closest to `word`, if it is close enough to be a plausible typo: at most a
/// third of the word's length in edits, a swap of two neighbours counting as one, as cargo does for unknown keys.
pub(super) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|(distance, _)| *distance <= limit)
        // Ties go to the alphabetically first candidate, so the hint is deterministic.
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_candidate_within_reach() {
        assert_eq!(did_you_mean("mut", ["mtu", "name"]), Some("mtu"));
        assert_eq!(
            did_you_mean("descripton", ["name", "description"]),
            Some("description")
        );
        assert_eq!(
            did_you_mean("demo-nte", ["demo-net", "other"]),
            Some("demo-net")
        );
    }

    #[test]
    fn stays_silent_when_nothing_is_close() {
        assert_eq!(did_you_mean("flavour_id", ["name", "tenant"]), None);
        assert_eq!(did_you_mean("x", std::iter::empty()), None);
    }

    #[test]
    fn breaks_ties_alphabetically() {
        assert_eq!(did_you_mean("ab", ["ac", "aa"]), Some("aa"));
    }
}
