//! Decorators: a [`Layer`] wraps a bot in another bot (tower's `Layer`, for bots).
//!
//! A decorator sees the inbound stream before the bot does, and everything the bot sends and asks
//! before the sessions do. It is written as a bot that runs its inner bot with a changed stream
//! and a changed [`Handle`](crate::Handle):
//!
//! ```
//! use chatty_core::{Bot, BotError, Handle, Inbound, Layer};
//! use futures::StreamExt;
//!
//! /// Drops typing notifications before the bot sees them.
//! #[derive(Debug, Clone)]
//! struct NoTyping<B>(B);
//!
//! impl<B: Bot> Bot for NoTyping<B> {
//!     async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
//!         let inbound = inbound
//!             .filter(|s| {
//!                 let typing = matches!(&s.body, chatty_core::Body::StatusChange(c)
//!                     if matches!(c.status, chatty_core::Status::Typing { .. }));
//!                 std::future::ready(!typing)
//!             })
//!             .boxed();
//!         self.0.run(inbound, handle).await
//!     }
//! }
//!
//! #[derive(Debug, Clone, Copy)]
//! struct NoTypingLayer;
//!
//! impl<B: Bot> Layer<B> for NoTypingLayer {
//!     type Bot = NoTyping<B>;
//!     fn layer(&self, inner: B) -> NoTyping<B> {
//!         NoTyping(inner)
//!     }
//! }
//! ```
//!
//! ## Order
//! `bot.wrap(a).wrap(b)` makes `b(a(bot))`: `b` is outermost, so it sees inbound signals first
//! and the bot's outbound signals last.

/// Wraps a bot (or a synchronous bot, for the synchronizer) in a decorator.
pub trait Layer<B> {
    /// The decorated bot.
    type Bot;

    /// Wraps `inner`.
    fn layer(&self, inner: B) -> Self::Bot;
}

/// The layer that changes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<B> Layer<B> for Identity {
    type Bot = B;

    fn layer(&self, inner: B) -> B {
        inner
    }
}

/// Two layers in a row: `Stack(inner, outer)` applies `inner` first, then `outer`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stack<Inner, Outer>(pub Inner, pub Outer);

impl<B, Inner, Outer> Layer<B> for Stack<Inner, Outer>
where
    Inner: Layer<B>,
    Outer: Layer<Inner::Bot>,
{
    type Bot = Outer::Bot;

    fn layer(&self, inner: B) -> Self::Bot {
        Layer::layer(&self.1, Layer::layer(&self.0, inner))
    }
}

/// `.wrap(layer)` on every value, so decorators stack left to right.
pub trait LayerExt: Sized {
    /// Wraps `self` in the layer `layer`.
    #[must_use]
    fn wrap<L: Layer<Self>>(self, layer: L) -> L::Bot {
        Layer::layer(&layer, self)
    }
}

impl<T> LayerExt for T {}

#[cfg(test)]
mod tests {
    use super::*;

    struct Push(&'static str);

    impl Layer<Vec<&'static str>> for Push {
        type Bot = Vec<&'static str>;
        fn layer(&self, mut inner: Vec<&'static str>) -> Self::Bot {
            inner.push(self.0);
            inner
        }
    }

    #[test]
    fn layers_apply_in_order() {
        let v = Vec::new().wrap(Push("a")).wrap(Push("b"));
        assert_eq!(v, ["a", "b"]);
        let v = Stack(Push("a"), Push("b")).layer(Vec::new());
        assert_eq!(v, ["a", "b"]);
        let v: Vec<&str> = Vec::new().wrap(Identity);
        assert!(v.is_empty());
    }
}
