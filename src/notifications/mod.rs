//! Push notifications sent through the job queue, to the log or to a webhook.

mod model;
pub mod notifier;
pub mod resolvers;
mod service;

pub use model::{NotificationText, PhoneNumber};
pub use notifier::{LogNotifier, Notifier, WebhookNotifier};
pub use service::{NotificationJobs, NotificationRequest, NotificationsService};
