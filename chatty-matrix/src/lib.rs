//! Matrix sessions for Chatty bots (work in progress).
