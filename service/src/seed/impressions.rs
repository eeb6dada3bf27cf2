//! Tags, the tags of each piece of content, and impressions.
//!
//! Content number `c` (1..=contents) is `(content_type_id, object_id) =
//! (type(c), c)`, the type drawn from a handful of values, mostly videos.
//! Each content has 0–6 distinct tags (about 3 on average), popular tags
//! first. Impressions pick content with a Zipf-like skew (a bit length
//! uniformly, then a number of that length: P(c) ∝ 1/c, so the top 1% of
//! contents get about half the views) and are spread evenly over the `days`
//! UTC days before the anchor, ids increasing with `created` like an
//! append-only log.
use sea_orm::ConnectionTrait;

use super::hash::Gen;
use super::{insert, Counts, TableReport};
use crate::error::JobError;

/// Django-style content type ids, repeated by weight (videos dominate).
const CONTENT_TYPES: [u32; 10] = [12, 12, 12, 12, 12, 12, 15, 15, 17, 23];

const TAGS: [&str; 48] = [
    "music",
    "gaming",
    "cooking",
    "travel",
    "news",
    "comedy",
    "education",
    "sports",
    "science",
    "art",
    "diy",
    "tech",
    "fitness",
    "anime",
    "film",
    "pets",
    "nature",
    "history",
    "fashion",
    "beauty",
    "cars",
    "books",
    "politics",
    "finance",
    "health",
    "kids",
    "asmr",
    "vlog",
    "review",
    "tutorial",
    "live",
    "shorts",
    "podcast",
    "dance",
    "jazz",
    "rock",
    "hip-hop",
    "classical",
    "café",
    "niño",
    "über",
    "東京",
    "猫",
    "🎮",
    "🎵",
    "minecraft",
    "speedrun",
    "retro",
];

/// The content type of content `c` (an SQL expression), the same everywhere it is used.
fn content_type(g: &Gen, c: &str) -> String {
    let weights: Vec<String> = CONTENT_TYPES.iter().map(u32::to_string).collect();
    format!(
        "(ARRAY[{}]::int[])[1 + {}]",
        weights.join(","),
        g.below("content.type", c, CONTENT_TYPES.len())
    )
}

pub async fn seed(
    db: &impl ConnectionTrait,
    g: &Gen,
    n: &Counts,
    anchor: &str,
) -> Result<Vec<TableReport>, JobError> {
    // Tag names: the base list, then the base list again with a numeric suffix (unique).
    let tags = insert(
        db,
        "tags",
        format!(
            "INSERT INTO tags (id, name) \
             SELECT i, ({names})[1 + ((i - 1) % {len})::int] \
                       || CASE WHEN i > {len} THEN '-' || ((i - 1) / {len}) ELSE '' END \
             FROM generate_series(1::bigint, {count}) i",
            names = super::hash::text_array(&TAGS),
            len = TAGS.len(),
            count = n.tags,
        ),
    )
    .await?;
    let content_tags = insert(db, "content_tags", content_tags_sql(g, n)).await?;
    let impressions = insert(db, "impressions", impressions_sql(g, n, anchor)).await?;
    Ok(vec![tags, content_tags, impressions])
}

fn content_tags_sql(g: &Gen, n: &Counts) -> String {
    let k = if n.tags == 0 {
        "0".to_string()
    } else {
        g.below("content_tags.count", "c", 7)
    };
    // 0..6 draws per content, a repeated draw dropped (distinct tags), popular tags first.
    format!(
        "INSERT INTO content_tags (content_type_id, object_id, tag_id) \
         SELECT {ctype}, c, d[j] \
         FROM (SELECT c, k, {draws} AS d \
               FROM (SELECT c, {k}::int AS k FROM generate_series(1::bigint, {contents}) c) a) b \
         CROSS JOIN LATERAL generate_series(1, k) j \
         WHERE d[j] <> ALL (d[1:j - 1])",
        ctype = content_type(g, "c"),
        draws = g.skewed_draws("content_tags.tag", "c", "k", n.tags, 6),
        contents = n.contents,
    )
}

fn impressions_sql(g: &Gen, n: &Counts, anchor: &str) -> String {
    let contents = n.contents.max(1);
    // Bit lengths 0..bits-1 all start at or below `contents`; a draw past it wraps.
    let bits = 64 - contents.leading_zeros();
    let span_us = n.days * 86_400_000_000;
    let slot_us = span_us as f64 / n.impressions.max(1) as f64;
    format!(
        "INSERT INTO impressions (id, content_type_id, object_id, created) \
         SELECT i, {ctype}, c, \
                {anchor} - interval '{days} days' \
                + interval '1 microsecond' * least(floor((i - 1 + {jitter}) * {slot_us}::float8), {last}) \
         FROM (SELECT i, 1 + (lo + {offset} - 1) % {contents} AS c \
               FROM (SELECT i, 1::bigint << {bit}::int AS lo \
                     FROM generate_series(1::bigint, {count}) i) b) z",
        ctype = content_type(g, "c"),
        days = n.days,
        jitter = g.unit("impression.created", "i"),
        last = span_us.saturating_sub(1),
        offset = g.below("impression.offset", "i", "lo"),
        bit = g.below("impression.bits", "i", bits),
        count = n.impressions,
    )
}
