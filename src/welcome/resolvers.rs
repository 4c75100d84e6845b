//! `Query.locales` and `Query.welcome`.

use async_graphql::{Context, Object, Result, SimpleObject};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Welcome, WelcomeService};
use crate::{
    accounts::resolvers::UserNode,
    graphql::guards::request_context,
    i18n::{self, SUPPORTED_LOCALES},
};

/// A locale the server answers in.
#[derive(SimpleObject)]
#[graphql(serial)]
pub struct LocaleInfo {
    /// BCP 47 code, such as `fr`: what `?locale=`, `Accept-Language` and `locale` arguments take.
    code: &'static str,
    /// The locale's name in its own language.
    name: &'static str,
}

/// The current time, as an instant and as the resolved locale writes it in the resolved zone.
#[derive(SimpleObject)]
#[graphql(serial)]
pub struct CurrentTime {
    /// RFC 3339, UTC.
    iso: DateTime<Utc>,
    /// Medium date and time in the resolved zone, e.g. `Jan 21, 2020, 5:55:39 AM` or `21 janv. 2020, 05:55:39`.
    formatted: Arc<str>,
}

pub struct WelcomeObject(Welcome);

// `serial` (see Product in the catalog): every field is ready, nothing to wait on concurrently.
#[Object(name = "Welcome", serial)]
impl WelcomeObject {
    /// The locale this message is in.
    async fn locale(&self) -> &str {
        self.0.locale
    }

    /// The IANA zone `currentTime.formatted` is in.
    async fn timezone(&self) -> &str {
        self.0.timezone.name()
    }

    async fn title(&self) -> &str {
        &self.0.texts.title
    }

    async fn greeting(&self) -> &str {
        &self.0.texts.greeting
    }

    /// A sentence naming the logged-in user, or saying that nobody is logged in.
    async fn logged_in_as(&self) -> &str {
        &self.0.logged_in_as
    }

    async fn current_time(&self) -> CurrentTime {
        CurrentTime {
            iso: self.0.now,
            formatted: self.0.formatted_now.clone(),
        }
    }
}

#[derive(Default)]
pub struct WelcomeQuery;

#[Object]
impl WelcomeQuery {
    /// The locales the server answers in.
    #[graphql(cache_control(max_age = 3600))]
    async fn locales(&self) -> Vec<LocaleInfo> {
        SUPPORTED_LOCALES
            .iter()
            .map(|(code, name)| LocaleInfo { code, name })
            .collect()
    }

    /// A translated welcome. `locale` and `timezone` outrank the rest of the resolution chain; unsupported
    /// values are skipped, not errors.
    #[graphql(cache_control(no_cache))]
    async fn welcome(
        &self,
        ctx: &Context<'_>,
        locale: Option<String>,
        timezone: Option<String>,
    ) -> Result<WelcomeObject> {
        let request = request_context(ctx);
        let locale = match locale.as_deref().and_then(i18n::supported_locale) {
            Some(argument) => request.use_locale_argument(argument),
            None => request.effective_locale(),
        };
        let timezone = timezone
            .as_deref()
            .and_then(i18n::parse_time_zone)
            .unwrap_or(request.timezone);
        let user = UserNode::load_caller(ctx).await?;
        let service = ctx.data_unchecked::<WelcomeService>();
        Ok(WelcomeObject(service.welcome(
            locale,
            timezone,
            user.as_ref().map(UserNode::name),
        )))
    }
}
