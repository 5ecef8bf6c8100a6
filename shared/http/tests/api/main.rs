//! The operator API and the signed webhook over HTTP, as the local runtime serves them:
//! status codes, headers, problem+json bodies, tenancy and what is (not) stored. Every
//! test runs twice, on the embedded table (`…::embedded::…`) and on DynamoDB in moto
//! (`…::dynamo::…`); see `support::for_each_store!`.

#[macro_use]
mod support;

mod dnc;
mod legal;
mod lists;
mod mailboxes;
mod operators;
mod platform_calls;
mod platforms;
mod previews;
mod routes;
mod secrets;
mod settings;
mod tenancy;
mod unsubscribe;
mod validation;
mod views;
mod webhook;
mod whatsapp;
