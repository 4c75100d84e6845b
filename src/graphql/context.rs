//! What the HTTP edge learns about a request once, for guards and resolvers to read.

use std::net::IpAddr;

use crate::accounts::Caller;

#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub caller: Option<Caller>,
    pub locale: String,
    pub client_address: Option<IpAddr>,
}

impl RequestContext {
    pub fn anonymous(request_id: impl Into<String>, locale: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            caller: None,
            locale: locale.into(),
            client_address: None,
        }
    }
}
