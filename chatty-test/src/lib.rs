//! Test support for Chatty.
