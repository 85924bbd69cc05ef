//! Which subscriptions take an event: by source and type, and the key each orders it by.
//! Built once from the manifest; the log routes with it inside the accepting transaction.

use flowctl_lang::manifest::events::{KoAction, Locator, Step, Subscription, Target};
use flowctl_lang::manifest::Manifest;
use serde_json::Value;
use std::collections::HashMap;

pub use flowctl_lang::manifest::events::{ko_handler_subscription, ko_source};

/// One subscription's view of a source.
#[derive(Debug, Clone)]
pub struct Route {
    pub subscription: String,
    types: Vec<String>,
    key: Option<Vec<Step>>,
}

impl Route {
    pub fn takes(&self, event_type: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == event_type)
    }

    /// The ordering key: the subscription's own path into the payload, else the event's key.
    pub fn key(&self, event: &Value) -> Result<String, String> {
        flowctl_protocol::event::subscription_key(
            self.key.as_deref(),
            event["key"].as_str().unwrap_or_default(),
            &event["data"],
        )
    }
}

/// How a subscription runs, as the dispatcher needs it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub target: Target,
    pub concurrency: usize,
    /// Attempts after the first, the first delay (seconds) and its multiplier.
    pub retry: (u32, f64, f64),
    pub on_ko: KoAction,
    pub state: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Routes {
    by_source: HashMap<String, Vec<Route>>,
    plans: Vec<Plan>,
}

impl Routes {
    /// The routes of a checked manifest: every subscription, and for each `ko` handler the
    /// implicit subscription `<name>:ko` on `ko:<name>`.
    pub fn new(manifest: &Manifest) -> Routes {
        let mut routes = Routes::default();
        for (name, sub) in &manifest.subscriptions {
            routes.add(name, sub);
        }
        routes
    }

    fn add(&mut self, name: &str, sub: &Subscription) {
        let key = sub.key.as_deref().and_then(|k| match Locator::parse(k) {
            Ok(Locator::Payload(steps)) => Some(steps),
            _ => None,
        });
        for source in sub.sources() {
            self.by_source
                .entry(source.clone())
                .or_default()
                .push(Route {
                    subscription: name.to_string(),
                    types: sub.types.clone(),
                    key: key.clone(),
                });
        }
        let retry = sub
            .retry
            .as_ref()
            .map_or((0, 0.0, 1.0), |r| (r.max, r.interval, r.backoff));
        self.plans.push(Plan {
            name: name.to_string(),
            target: sub.target.clone(),
            concurrency: sub.concurrency().max(1) as usize,
            retry,
            on_ko: sub.on_ko(),
            state: sub.state,
        });
        if let Some(handler) = sub.ko.as_ref().and_then(|k| k.handler.clone()) {
            let implicit = ko_handler_subscription(name);
            self.by_source
                .entry(ko_source(name))
                .or_default()
                .push(Route {
                    subscription: implicit.clone(),
                    types: Vec::new(),
                    key: None,
                });
            self.plans.push(Plan {
                name: implicit,
                target: handler,
                concurrency: sub.concurrency().max(1) as usize,
                retry,
                on_ko: KoAction::Skip,
                state: false,
            });
        }
    }

    pub fn of(&self, source: &str) -> &[Route] {
        self.by_source.get(source).map_or(&[], Vec::as_slice)
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }
}
