//! Mailers spread evenly over the 60 days before the anchor (ids increase
//! with `sent`, as when they are written at send time) and their emails in
//! contiguous blocks of about `emails / mailers` each. Every email's
//! `mailer_id` names an existing mailer.
use sea_orm::ConnectionTrait;

use super::hash::Gen;
use super::{insert, Counts, TableReport};
use crate::error::JobError;

const SPAN_DAYS: u64 = 60;

const SUBJECTS: [&str; 8] = [
    "Your weekly digest",
    "New videos from creators you follow",
    "Someone replied to your comment",
    "Trending in your community",
    "Ton résumé de la semaine",
    "Tu resumen semanal",
    "今週のおすすめ",
    "🎉 You have new followers",
];
const DOMAINS: [&str; 5] = [
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "例え.jp",
];
const LINES: [&str; 6] = [
    "here is what happened in your communities this week.",
    "three new videos are waiting for you.",
    "your comment got a reply: \"great video, thanks!\"",
    "voici les vidéos les plus vues de la semaine.",
    "creators you follow went live while you were away.",
    "you have unread messages.\nSee them on the site.",
];

pub async fn seed(
    db: &impl ConnectionTrait,
    g: &Gen,
    n: &Counts,
    anchor: &str,
) -> Result<Vec<TableReport>, JobError> {
    // Slot i of the span, jittered inside its slot; whole microseconds so the
    // arithmetic is exact and the last mailer stays before the anchor.
    let slot_us = (SPAN_DAYS * 86_400_000_000) as f64 / n.mailers.max(1) as f64;
    let mailers = insert(
        db,
        "mailers",
        format!(
            "INSERT INTO mailers (id, subject, sent) \
             SELECT i, {subject} || ' #' || i, \
                    {anchor} - interval '{SPAN_DAYS} days' \
                    + interval '1 microsecond' * floor((i - 1 + {jitter}) * {slot_us}::float8) \
             FROM generate_series(1::bigint, {count}) i",
            subject = g.pick("mailer.subject", "i", &SUBJECTS),
            jitter = g.unit("mailer.sent", "i"),
            count = n.mailers,
        ),
    )
    .await?;
    let emails = insert(
        db,
        "emails",
        format!(
            "INSERT INTO emails (id, mailer_id, recipient, body) \
             SELECT i, 1 + (i - 1) * {mailers} / {total}, \
                    'user' || (1 + {user}) || '@' || {domain}, \
                    'Hi ' || {name} || ', ' || {line} || E'\\n-- unsubscribe: https://example.com/u/' || i \
             FROM generate_series(1::bigint, {count}) i",
            mailers = n.mailers,
            total = n.emails.max(1),
            count = n.emails,
            user = g.below("email.user", "i", 1_000_000),
            domain = g.pick("email.domain", "i", &DOMAINS),
            name = g.pick("email.name", "i", &["Ana", "Björn", "Chloé", "Wei", "Zoë"]),
            line = g.pick("email.line", "i", &LINES),
        ),
    )
    .await?;
    Ok(vec![mailers, emails])
}
