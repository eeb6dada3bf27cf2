//! Communities, profiles, groups and profile_groups.
//!
//! Community 1 holds about 40% of all profiles and the rest follow a long
//! tail (community `2 + floor((C-1)·v²)`), as on the real site where a few
//! communities had hundreds of thousands of members. Each profile has 0–6
//! distinct groups (about 3 on average) from a few dozen whose names include
//! the precedence names; low group ids are the popular ones (`member` is
//! everywhere, `staff` is rare), and the precedence names do not have the
//! lowest ids, so "first by precedence" and "first by id" differ.
use sea_orm::ConnectionTrait;

use super::hash::Gen;
use super::{insert, Counts, TableReport};
use crate::error::JobError;

/// Group names, most popular first; further groups are named `group-N`.
const GROUPS: [&str; 40] = [
    "member",
    "subscriber",
    "viewer",
    "creator",
    "commenter",
    "newcomer",
    "fan",
    "regular",
    "moderator",
    "beta-tester",
    "translator",
    "artist",
    "musician",
    "gamer",
    "reviewer",
    "curator",
    "editor",
    "mentor",
    "veteran",
    "supporter",
    "staff",
    "vip",
    "sponsor",
    "partner",
    "streamer",
    "Photographers",
    "écrivains",
    "ñandú-club",
    "日本語",
    "admin",
    "alumni",
    "ambassador",
    "contributor",
    "developer",
    "designer",
    "organizer",
    "volunteer",
    "writer",
    "zine-makers",
    "Zebra",
];

const FIRST: [&str; 24] = [
    "Ana", "Björn", "Chloé", "Dmitri", "Émile", "Fatima", "Günther", "Hana", "Iñigo", "José",
    "Kenji", "Lena", "Mateo", "Nadia", "Oksana", "Pierre", "Quentin", "Rosa", "Søren", "Tomás",
    "Ursula", "Wei", "Yuki", "Zoë",
];
const LAST: [&str; 16] = [
    "Smith", "García", "Müller", "Rossi", "Nowak", "Dubois", "Silva", "Kowalski", "Tanaka",
    "O'Brien", "Nguyen", "Jensen", "Moreau", "Ivanova", "李", "Öztürk",
];
const PLACES: [&str; 12] = [
    "Retro", "Indie", "Speedrun", "Cooking", "Jazz", "Anime", "Chess", "Hiking", "Pixel", "Café",
    "Vinyl", "Cosplay",
];
const KINDS: [&str; 8] = [
    "Club",
    "Collective",
    "Guild",
    "Crew",
    "Lounge",
    "Society",
    "Circle",
    "Hub",
];

pub async fn seed(
    db: &impl ConnectionTrait,
    g: &Gen,
    n: &Counts,
) -> Result<Vec<TableReport>, JobError> {
    let communities = insert(
        db,
        "communities",
        format!(
            "INSERT INTO communities (id, name) \
             SELECT i, {} || ' ' || {} || ' ' || i FROM generate_series(1::bigint, {}) i",
            g.pick("community.place", "i", &PLACES),
            g.pick("community.kind", "i", &KINDS),
            n.communities
        ),
    )
    .await?;
    let profiles = insert(db, "profiles", profiles_sql(g, n)).await?;
    let groups = insert(
        db,
        "groups",
        format!(
            "INSERT INTO groups (id, name) \
             SELECT i, CASE WHEN i <= {len} THEN ({names})[i] ELSE 'group-' || i END \
             FROM generate_series(1::bigint, {count}) i",
            len = GROUPS.len(),
            names = super::hash::text_array(&GROUPS),
            count = n.groups
        ),
    )
    .await?;
    let profile_groups = insert(db, "profile_groups", profile_groups_sql(g, n)).await?;
    Ok(vec![communities, profiles, groups, profile_groups])
}

fn profiles_sql(g: &Gen, n: &Counts) -> String {
    let tail = n.communities.saturating_sub(1);
    // Users own profiles in several communities: fewer users than profiles.
    let users = (n.profiles * 3 / 4).max(1);
    format!(
        "INSERT INTO profiles (id, community_id, user_id, display_name) \
         SELECT i, \
                CASE WHEN u < 0.4 OR {tail} = 0 THEN 1 \
                     ELSE 2 + floor({tail} * ((u - 0.4) / 0.6) * ((u - 0.4) / 0.6))::bigint END, \
                1 + {user}, \
                {first} || ' ' || {last} || CASE WHEN {numbered} = 0 THEN ' ' || i ELSE '' END \
         FROM (SELECT i, {u} AS u FROM generate_series(1::bigint, {count}) i) s",
        u = g.unit("profile.community", "i"),
        user = g.below("profile.user", "i", users),
        first = g.pick("profile.first", "i", &FIRST),
        last = g.pick("profile.last", "i", &LAST),
        numbered = g.below("profile.numbered", "i", 3),
        count = n.profiles,
        tail = tail,
    )
}

fn profile_groups_sql(g: &Gen, n: &Counts) -> String {
    let k = if n.groups == 0 {
        "0".to_string()
    } else {
        g.below("profile_groups.count", "p", 7)
    };
    // 0..6 draws per profile (3 on average), a repeated draw dropped so each
    // profile's groups are distinct; low ids are the popular groups.
    format!(
        "INSERT INTO profile_groups (profile_id, group_id) \
         SELECT p, d[j] \
         FROM (SELECT p, k, {draws} AS d \
               FROM (SELECT p, {k}::int AS k FROM generate_series(1::bigint, {profiles}) p) a) b \
         CROSS JOIN LATERAL generate_series(1, k) j \
         WHERE d[j] <> ALL (d[1:j - 1])",
        draws = g.skewed_draws("profile_groups.group", "p", "k", n.groups, 6),
        profiles = n.profiles,
    )
}
