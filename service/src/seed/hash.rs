//! SQL expressions of deterministic pseudo-random values: every value is a
//! hash of (seed, stream, row number), computed by PostgreSQL itself.
//!
//! `hashint8extended(n, seed)` is the hash PostgreSQL's hash partitioning
//! stores on disk, so it cannot change between versions: the same seed gives
//! the same rows on any PostgreSQL 13+. Only integer operations and IEEE basic
//! arithmetic (`+ - * /`, exact on every platform) are built on it; no
//! `random()` (one generator per session, not per statement) and no `exp`/`ln`
//! (libm results may differ between machines).

/// Largest mask that keeps a hash non-negative.
const POSITIVE: &str = "9223372036854775807";
/// 2^53 - 1 and 2^53: a hash's low 53 bits as a double in [0, 1).
const MANTISSA: &str = "9007199254740991";
const TWO_POW_53: &str = "9007199254740992.0";

/// The expression builder of one seed. Each `stream` name gives an
/// independent sequence, so adding a column never shifts the others.
#[derive(Clone, Copy, Debug)]
pub struct Gen {
    seed: u64,
}

impl Gen {
    /// The builder for `seed`: the same seed gives the same values on any PostgreSQL 13+.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The hash seed of one stream: the user's seed mixed with the stream's name.
    fn stream(&self, stream: &str) -> i64 {
        // FNV-1a of the name, then SplitMix64: stable across Rust versions and machines.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stream.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut z = self.seed ^ h;
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as i64
    }

    /// A 64-bit hash of `row` (an SQL expression) in `stream`.
    pub fn hash(&self, stream: &str, row: &str) -> String {
        format!("hashint8extended(({row})::bigint, {})", self.stream(stream))
    }

    /// A uniform integer in `[0, n)`; `n` is an SQL expression or a number (> 0).
    pub fn below(&self, stream: &str, row: &str, n: impl std::fmt::Display) -> String {
        format!("(({} & {POSITIVE}) % ({n}))", self.hash(stream, row))
    }

    /// A uniform double in `[0, 1)`.
    pub fn unit(&self, stream: &str, row: &str) -> String {
        format!(
            "(({} & {MANTISSA})::float8 / {TWO_POW_53})",
            self.hash(stream, row)
        )
    }

    /// `k` (an SQL expression, at most `max`) draws from `1..=n` favouring low
    /// numbers (`1 + floor(n·u²)`), as a `bigint[]` of `max` slots (NULL past
    /// `k`). Callers keep slot `j` only if it differs from slots `1..j-1`, so
    /// the kept values are distinct without `ON CONFLICT`, which costs twice
    /// as much per row.
    pub fn skewed_draws(&self, stream: &str, row: &str, k: &str, n: u64, max: u32) -> String {
        let slots: Vec<String> = (1..=max)
            .map(|j| {
                let u = self.unit(stream, &format!("({row}) * 8 + {j}"));
                format!("CASE WHEN {k} >= {j} THEN 1 + floor({n} * {u} * {u})::bigint END")
            })
            .collect();
        format!("ARRAY[{}]::bigint[]", slots.join(", "))
    }

    /// One of `items` (SQL text literals), uniformly.
    pub fn pick(&self, stream: &str, row: &str, items: &[&str]) -> String {
        format!(
            "({})[1 + {}]",
            text_array(items),
            self.below(stream, row, items.len().max(1))
        )
    }
}

/// `s` as an SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `items` as an SQL `text[]` constructor.
pub fn text_array(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| lit(s)).collect();
    format!("ARRAY[{}]::text[]", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_are_stable() {
        let g = Gen::new(1);
        assert_ne!(g.stream("a"), g.stream("b"));
        assert_ne!(Gen::new(2).stream("a"), g.stream("a"));
        assert_eq!(Gen::new(1).stream("a"), g.stream("a"));
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(lit("it's"), "'it''s'");
    }
}
