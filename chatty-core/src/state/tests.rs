//! The typed layer and the memory store: scopes apart, keys by prefix, wrong types said.

use super::*;

#[tokio::test]
async fn scopes_are_apart_and_keys_are_listed_by_prefix_in_order() {
    let store = Arc::new(MemoryStore::new());
    let support = State::shared(store.clone(), "support");
    let sales = State::shared(store, "sales");
    support.put("people/bob", &2).await.unwrap();
    support.put("people/alice", &1).await.unwrap();
    support.put("peoplex", &0).await.unwrap();
    support.put("tickets", &vec!["printer"]).await.unwrap();
    sales.put("people/carol", &3).await.unwrap();
    assert_eq!(
        support.keys("people/").await.unwrap(),
        vec!["people/alice", "people/bob"]
    );
    assert_eq!(support.keys("").await.unwrap().len(), 4);
    assert_eq!(sales.keys("people/").await.unwrap(), vec!["people/carol"]);
    assert_eq!(sales.get::<i32>("people/alice").await.unwrap(), None);
    assert_eq!(
        support.get::<Vec<String>>("tickets").await.unwrap(),
        Some(vec!["printer".to_owned()])
    );
    support.delete("people/bob").await.unwrap();
    support.delete("never-there").await.unwrap();
    assert_eq!(support.keys("people/").await.unwrap(), vec!["people/alice"]);
}

#[tokio::test]
async fn a_value_of_another_type_is_an_error_naming_its_key() {
    let state = State::in_memory("bot");
    state.put("count", "not a number").await.unwrap();
    let error = state.get::<u32>("count").await.unwrap_err();
    assert!(
        matches!(&error, StateError::Value { key, .. } if key == "count"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the state value `count`: invalid type"),
        "{error}"
    );
}

#[tokio::test]
async fn a_swap_happens_only_from_the_value_expected() {
    let state = State::in_memory("bot");
    // From nothing: once.
    assert!(state.swap("lease", None, Some(&1)).await.unwrap());
    assert!(!state.swap("lease", None, Some(&2)).await.unwrap());
    assert_eq!(state.get::<i32>("lease").await.unwrap(), Some(1));
    // From a value: only that one.
    assert!(!state.swap("lease", Some(&3), Some(&4)).await.unwrap());
    assert!(state.swap("lease", Some(&1), Some(&2)).await.unwrap());
    assert_eq!(state.get::<i32>("lease").await.unwrap(), Some(2));
    // To nothing: removed.
    assert!(!state.swap("lease", Some(&1), None).await.unwrap());
    assert!(state.swap("lease", Some(&2), None).await.unwrap());
    assert_eq!(state.get::<i32>("lease").await.unwrap(), None);
    // Nothing to nothing: true while there is nothing.
    assert!(state.swap::<i32>("lease", None, None).await.unwrap());
    state.put("lease", &5).await.unwrap();
    assert!(!state.swap::<i32>("lease", None, None).await.unwrap());
}
