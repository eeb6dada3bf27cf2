//! Videos with the titles autocomplete has to survive: 1–4 words in mixed
//! case (some all lower, some all upper, some capitalised), leading or
//! trailing spaces on about one in ten, accents (precomposed and one with a
//! combining accent), CJK, Hangul and emoji, and about 1% empty or all-space
//! titles. Words repeat a lot, so titles share prefixes as real ones do.
use sea_orm::ConnectionTrait;

use super::hash::Gen;
use super::{insert, TableReport};
use crate::error::JobError;

const WORDS: [&str; 64] = [
    "the",
    "The",
    "best",
    "Best",
    "music",
    "MUSIC",
    "Music",
    "video",
    "Video",
    "how",
    "to",
    "cook",
    "Café",
    "café",
    "Cafe\u{301}",
    "Über",
    "über",
    "niño",
    "Niño",
    "mañana",
    "Crème",
    "brûlée",
    "naïve",
    "Ærø",
    "東京",
    "日本語",
    "猫",
    "ラーメン",
    "中文",
    "한국어",
    "🎉",
    "🐱",
    "🚀",
    "🔥",
    "live",
    "LIVE",
    "Tutorial",
    "tutorial",
    "game",
    "Gaming",
    "cat",
    "Cats",
    "dog",
    "travel",
    "Travel",
    "vlog",
    "VLOG",
    "review",
    "unboxing",
    "asmr",
    "ASMR",
    "Minecraft",
    "minecraft",
    "recipe",
    "guitar",
    "Piano",
    "lesson",
    "2024",
    "part",
    "1",
    "2",
    "10",
    "İstanbul",
    "straße",
];

pub async fn seed(
    db: &impl ConnectionTrait,
    g: &Gen,
    videos: u64,
) -> Result<TableReport, JobError> {
    let word = |k: u32| g.pick(&format!("video.word{k}"), "i", &WORDS);
    let sql = format!(
        "INSERT INTO videos (id, title) \
         SELECT i, CASE WHEN shape < 0.01 THEN '' \
                        WHEN shape < 0.02 THEN repeat(' ', 1 + (i % 3)::int) \
                        ELSE lead || CASE casing WHEN 0 THEN lower(t) WHEN 1 THEN upper(t) \
                                                 WHEN 2 THEN initcap(t) ELSE t END || trail END \
         FROM (SELECT i, {shape} AS shape, {casing} AS casing, \
                      CASE WHEN {lead} = 0 THEN repeat(' ', 1 + (i % 2)::int) ELSE '' END AS lead, \
                      CASE WHEN {trail} = 0 THEN repeat(' ', 1 + (i % 3)::int) ELSE '' END AS trail, \
                      concat_ws(' ', {w1}, CASE WHEN n >= 2 THEN {w2} END, \
                                CASE WHEN n >= 3 THEN {w3} END, CASE WHEN n >= 4 THEN {w4} END) AS t \
               FROM (SELECT i, 1 + {n} AS n FROM generate_series(1::bigint, {videos}) i) c) s",
        shape = g.unit("video.shape", "i"),
        // Mostly as written; a quarter lowered, uppercased or capitalised.
        casing = g.below("video.casing", "i", 12),
        lead = g.below("video.lead", "i", 10),
        trail = g.below("video.trail", "i", 10),
        n = g.below("video.words", "i", 4),
        w1 = word(1),
        w2 = word(2),
        w3 = word(3),
        w4 = word(4),
    );
    insert(db, "videos", sql).await
}
