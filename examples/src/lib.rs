//! Examples for Chatty.
