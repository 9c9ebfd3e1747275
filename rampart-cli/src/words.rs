//! Counted nouns in what rampart prints: "1 record", "2 records", "1
//! process", "3 policies". English plurals of the nouns it counts, nothing
//! more; it never formats anything else.

/// `n` and `noun`, the noun in the plural unless `n` is 1.
pub fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        return format!("1 {noun}");
    }
    let plural = if noun.ends_with('s') || noun.ends_with('x') {
        format!("{noun}es")
    } else if let Some(stem) = noun
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{noun}s")
    };
    format!("{n} {plural}")
}

/// "is" or "are", to agree with a count.
pub fn is_are(n: u64) -> &'static str {
    if n == 1 {
        "is"
    } else {
        "are"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nouns_agree_with_their_count() {
        assert_eq!(counted(1u64, "record"), "1 record");
        assert_eq!(counted(0u64, "record"), "0 records");
        assert_eq!(counted(2u64, "process"), "2 processes");
        assert_eq!(counted(3u64, "policy"), "3 policies");
        assert_eq!(counted(2u64, "day"), "2 days");
        assert_eq!(counted(1u64, "call"), "1 call");
        assert_eq!(is_are(1), "is");
        assert_eq!(is_are(2), "are");
    }
}
