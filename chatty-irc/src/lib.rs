#![doc = include_str!("../README.md")]

#[cfg(test)]
mod hostile_tests;
pub mod proto;
