//! Handlers: async functions whose arguments are extractors and whose result is the answer.

use std::future::Future;
use std::sync::Arc;

use chatty_core::{Body, BotError, File, Message, Signal};
use futures::future::BoxFuture;

use crate::context::{Context, ErasedHandler};
use crate::extract::{FromContext, Rejection};

/// What a handler returns: sent as the answer to the signal (to its conversation), or nothing.
///
/// - `()` and `None`: no answer.
/// - `String`, `&'static str`: a text message.
/// - [`Message`], [`File`], [`Body`]: that answer.
/// - [`Signal`]: sent as it is (its own addressees).
/// - `Result<T, E>`: `T`'s answer, or the error, which is logged (the bot goes on).
pub trait IntoReply: Send {
    /// Sends the answer, if any.
    fn into_reply(self, cx: &Context) -> impl Future<Output = Result<(), BotError>> + Send;
}

impl IntoReply for () {
    async fn into_reply(self, _cx: &Context) -> Result<(), BotError> {
        Ok(())
    }
}

macro_rules! reply_with_body {
    ($($ty:ty),*) => {$(
        impl IntoReply for $ty {
            async fn into_reply(self, cx: &Context) -> Result<(), BotError> {
                let body: Body = self.into();
                cx.reply(body).await?;
                Ok(())
            }
        }
    )*};
}

reply_with_body!(Message, File, Body);

impl IntoReply for String {
    async fn into_reply(self, cx: &Context) -> Result<(), BotError> {
        Message::text(self).into_reply(cx).await
    }
}

impl IntoReply for &'static str {
    async fn into_reply(self, cx: &Context) -> Result<(), BotError> {
        Message::text(self).into_reply(cx).await
    }
}

impl IntoReply for Signal {
    async fn into_reply(self, cx: &Context) -> Result<(), BotError> {
        cx.handle().send(self).await?;
        Ok(())
    }
}

impl<T: IntoReply> IntoReply for Option<T> {
    async fn into_reply(self, cx: &Context) -> Result<(), BotError> {
        match self {
            Some(t) => t.into_reply(cx).await,
            None => Ok(()),
        }
    }
}

impl<T: IntoReply, E: Into<BotError> + Send> IntoReply for Result<T, E> {
    async fn into_reply(self, cx: &Context) -> Result<(), BotError> {
        match self {
            Ok(t) => t.into_reply(cx).await,
            Err(e) => Err(e.into()),
        }
    }
}

/// An async function usable as a handler: up to eight arguments that implement
/// [`FromContext`], and a result that implements [`IntoReply`]. `Args` is the tuple of the
/// argument types; it only tells the implementations apart.
pub trait Handler<Args>: Clone + Send + Sync + 'static {
    /// Makes the arguments and calls the function; a rejected argument skips the call.
    fn call(&self, cx: Context) -> BoxFuture<'static, Result<(), BotError>>;
}

/// `handler` as an [`ErasedHandler`].
pub(crate) fn erase<Args, H: Handler<Args>>(handler: H) -> ErasedHandler {
    Arc::new(move |cx| handler.call(cx))
}

/// What a rejected argument means for the call: a skip is fine, a failure is the handler's
/// error.
pub(crate) fn rejected(rejection: Rejection) -> Result<(), BotError> {
    match rejection {
        Rejection::Skip(why) => {
            // The handler's arguments do not fit the signals it was registered for.
            tracing::warn!("handler not called: {why}");
            Ok(())
        }
        Rejection::Failed(e) => Err(e),
    }
}

macro_rules! impl_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, R, $($arg,)*> Handler<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReply + 'static,
            $($arg: FromContext + 'static,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, cx: Context) -> BoxFuture<'static, Result<(), BotError>> {
                let f = self.clone();
                Box::pin(async move {
                    $(
                        let $arg = match $arg::from_context(&cx).await {
                            Ok(value) => value,
                            Err(rejection) => return rejected(rejection),
                        };
                    )*
                    f($($arg),*).await.into_reply(&cx).await
                })
            }
        }
    };
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);
impl_handler!(A1, A2, A3, A4, A5, A6);
impl_handler!(A1, A2, A3, A4, A5, A6, A7);
impl_handler!(A1, A2, A3, A4, A5, A6, A7, A8);
