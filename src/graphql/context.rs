//! What the HTTP edge learns about a request once, for guards and resolvers to read.

use std::{
    net::IpAddr,
    sync::{Arc, OnceLock},
};

use crate::accounts::{Caller, User};

#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub caller: Option<Caller>,
    /// The caller's account, when the edge already read it for the locale chain: resolvers reuse it rather than
    /// query the same row again.
    pub caller_profile: Option<Arc<User>>,
    /// The locale resolved from the URL, the caller's saved locale, `Accept-Language` and the default.
    pub locale: &'static str,
    /// The zone resolved from the URL, the caller's saved zone and UTC.
    pub timezone: chrono_tz::Tz,
    pub client_address: Option<IpAddr>,
    /// A field's `locale` argument outranks the rest of the chain, for that field and for the request's errors.
    locale_argument: Arc<OnceLock<&'static str>>,
}

impl RequestContext {
    pub fn new(request_id: impl Into<String>, locale: &'static str) -> Self {
        Self {
            request_id: request_id.into(),
            caller: None,
            caller_profile: None,
            locale,
            timezone: chrono_tz::UTC,
            client_address: None,
            locale_argument: Arc::default(),
        }
    }

    /// The locale errors are rendered in once the request has run.
    pub fn effective_locale(&self) -> &'static str {
        self.locale_argument.get().copied().unwrap_or(self.locale)
    }

    /// Records a supported `locale` argument; the first one a request gives wins.
    pub fn use_locale_argument(&self, locale: &'static str) -> &'static str {
        self.locale_argument.get_or_init(|| locale)
    }
}
