//! vrg-operator: protects an application's Kubernetes objects for disaster recovery.
//!
//! The data flows one way: the wire API (`api`) is read by the recipe front-ends into one typed
//! model, validated into a plan, and executed step by step by the workflow engine inside a thin
//! Kubernetes shell. See ARCHITECTURE.md for the map.

pub mod api;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod hooks;
pub mod leader;
pub mod lifecycle;
pub mod plugin;
pub mod recipe;
pub mod storage;
pub mod telemetry;
pub mod velero;
pub mod webhook;
