//! SeaORM 2.0 entities of sitejobs: one module per table of the contract's schema,
//! plus `job_run` (the runner's history). Relations are declared on the models:
//! communities 1-N profiles; profiles M-N groups through [`profile_group`];
//! daily impression stats M-N tags through [`daily_impression_stats_tag`];
//! content's tags through [`content_tag`].
#![warn(missing_docs)]

pub mod community;
pub mod content_tag;
pub mod daily_impression_stats;
pub mod daily_impression_stats_tag;
pub mod denorm_profile_record;
pub mod email;
pub mod group;
pub mod impression;
pub mod job_run;
pub mod mailer;
pub mod my_number;
pub mod profile;
pub mod profile_group;
pub mod purge_watermark;
pub mod tag;
pub mod video;

/// The entities under CamelCase names (`Profile`, `DailyImpressionStats`, ...), for
/// `use entity::prelude::*`; `purge_watermark`, private to `purge-emails`, is left out.
pub mod prelude {
    pub use super::community::Entity as Community;
    pub use super::content_tag::Entity as ContentTag;
    pub use super::daily_impression_stats::Entity as DailyImpressionStats;
    pub use super::daily_impression_stats_tag::Entity as DailyImpressionStatsTag;
    pub use super::denorm_profile_record::Entity as DenormProfileRecord;
    pub use super::email::Entity as Email;
    pub use super::group::Entity as Group;
    pub use super::impression::Entity as Impression;
    pub use super::job_run::Entity as JobRun;
    pub use super::mailer::Entity as Mailer;
    pub use super::my_number::Entity as MyNumber;
    pub use super::profile::Entity as Profile;
    pub use super::profile_group::Entity as ProfileGroup;
    pub use super::tag::Entity as Tag;
    pub use super::video::Entity as Video;
}
