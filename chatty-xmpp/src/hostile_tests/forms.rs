//! Data forms (XEP-0004) for the property tests: Chatty's questions and answers, others' forms,
//! and broken ones.

use proptest::prelude::*;

use super::{Node, opt, text};

/// A data form (XEP-0004), Chatty's or another's: asked, submitted, cancelled, or broken.
pub(super) fn form() -> impl Strategy<Value = Node> {
    let x = |name: &str| Node::new(name, "jabber:x:data");
    let types = [
        "hidden",
        "list-single",
        "text-single",
        "boolean",
        "fixed",
        "odd",
    ];
    let field = (opt("[a-z]{0,4}"), opt(prop::sample::select(types.to_vec())))
        .prop_flat_map(|f| (Just(f), prop::collection::vec(opt(text()), 0..3), 0usize..3))
        .prop_map(move |((var, kind), values, options)| {
            let mut f = x("field")
                .attr("var", var)
                .attr("type", kind.map(str::to_owned));
            f.children
                .extend(values.into_iter().map(|v| x("value").text(v)));
            f.children.extend((0..options).map(|i| {
                x("option")
                    .attr("label", Some(format!("L{i}")))
                    .child(x("value").text(Some(i.to_string())))
            }));
            f
        });
    let kinds = vec!["form", "submit", "cancel", "result", "odd"];
    (
        opt(prop::sample::select(kinds)),
        any::<bool>(),
        prop::collection::vec(field, 0..3),
    )
        .prop_map(move |(kind, chatty, fields)| {
            let mut form = x("x").attr("type", kind.map(str::to_owned));
            if chatty {
                let value = x("value").text(Some(crate::ns::FORM_TYPE_CHOICE.to_owned()));
                form = form.child(
                    x("field")
                        .attr("var", Some("FORM_TYPE".into()))
                        .child(value),
                );
            }
            form.children.extend(fields);
            form
        })
}
