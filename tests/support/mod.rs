#![allow(dead_code)] // each test binary uses part of the support code

pub mod dr;
pub mod env;
pub mod hooks;
pub mod http;
pub mod net;
pub mod operator;
pub mod rbac;
pub mod recording;
