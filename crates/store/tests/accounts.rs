//! The account behaviour every storage engine must show. Engines are listed in `common`.

mod common;

use common::{REALM, engines, key};
use parlance_store::{ServerKey, StoreError};
use sip_proto::auth::{Algorithm, ha1};

#[tokio::test]
async fn users_are_added_listed_and_removed() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = store
            .add_user("Alice@Example.test", "Alice A.", "pw", REALM, &key())
            .await
            .unwrap();
        assert_eq!(alice.uri, "sip:alice@example.test");
        store
            .add_user("sip:bob@example.test", "", "pw", REALM, &key())
            .await
            .unwrap();
        assert!(matches!(
            store
                .add_user("alice@example.test", "", "pw", REALM, &key())
                .await,
            Err(StoreError::Duplicate(_))
        ));
        let uris: Vec<String> = store
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.uri)
            .collect();
        assert_eq!(uris, ["sip:alice@example.test", "sip:bob@example.test"]);
        assert_eq!(
            store
                .user("alice@example.test")
                .await
                .unwrap()
                .unwrap()
                .display_name,
            "Alice A."
        );
        store.remove_user("alice@example.test").await.unwrap();
        assert!(matches!(
            store.remove_user("alice@example.test").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(store.user("alice@example.test").await.unwrap().is_none());
        assert!(
            store
                .digest_ha1("alice@example.test", Algorithm::Md5, "alice", REALM, &key())
                .await
                .unwrap()
                .is_none()
        );
        engine.finish().await;
    }
}

#[tokio::test]
async fn digest_secrets_follow_the_password() {
    for engine in engines().await {
        let store = &engine.store;
        store
            .add_user("alice@example.test", "", "first", REALM, &key())
            .await
            .unwrap();
        for (alg, username) in [
            (Algorithm::Md5, "alice"),
            (Algorithm::Sha256, "alice@example.test"),
            (Algorithm::Sha256Sess, "alice"),
        ] {
            let got = store
                .digest_ha1("alice@example.test", alg, username, REALM, &key())
                .await
                .unwrap();
            assert_eq!(
                got.as_deref(),
                Some(ha1(alg, username, REALM, "first").as_str()),
                "{alg} {username}"
            );
        }
        assert!(
            store
                .digest_ha1(
                    "alice@example.test",
                    Algorithm::Md5,
                    "alice",
                    "other.realm",
                    &key()
                )
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .digest_ha1(
                    "alice@example.test",
                    Algorithm::Md5,
                    "mallory",
                    REALM,
                    &key()
                )
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .verify_password("alice@example.test", "first")
                .await
                .unwrap()
        );

        store
            .set_password("alice@example.test", "second", REALM, &key())
            .await
            .unwrap();
        let got = store
            .digest_ha1("alice@example.test", Algorithm::Md5, "alice", REALM, &key())
            .await
            .unwrap();
        assert_eq!(got.unwrap(), ha1(Algorithm::Md5, "alice", REALM, "second"));
        assert!(
            !store
                .verify_password("alice@example.test", "first")
                .await
                .unwrap()
        );
        assert!(
            store
                .verify_password("alice@example.test", "second")
                .await
                .unwrap()
        );
        assert!(matches!(
            store
                .set_password("nobody@example.test", "x", REALM, &key())
                .await,
            Err(StoreError::NotFound(_))
        ));

        let wrong_key = ServerKey::from_bytes(&[1u8; 32]).unwrap();
        assert!(matches!(
            store
                .digest_ha1(
                    "alice@example.test",
                    Algorithm::Md5,
                    "alice",
                    REALM,
                    &wrong_key
                )
                .await,
            Err(StoreError::Unseal)
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn data_survives_reopening_and_bad_input_is_refused() {
    for mut engine in engines().await {
        let store = &engine.store;
        store
            .add_user("alice@example.test", "", "pw", REALM, &key())
            .await
            .unwrap();
        assert!(matches!(
            store.add_user("no-domain", "", "pw", REALM, &key()).await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store
                .add_user("bob@example.test", "", "", REALM, &key())
                .await,
            Err(StoreError::Invalid { .. })
        ));
        engine.reopen().await;
        assert_eq!(engine.store.users().await.unwrap().len(), 1);
        engine.finish().await;
    }
}

#[tokio::test]
async fn mechanisms_decide_which_secrets_exist() {
    use parlance_store::Mechanisms;
    for engine in engines().await {
        let store = &engine.store;
        let user = store
            .add_user("alice@example.test", "", "pw", REALM, &key())
            .await
            .unwrap();
        assert_eq!(user.mechanisms, Mechanisms::ALL);
        let nt = store.nt_hash("alice@example.test", &key()).await.unwrap();
        assert_eq!(
            nt.as_ref(),
            Some(sipae::NtHash::from_password("pw").as_bytes())
        );

        store
            .set_mechanisms(
                "alice@example.test",
                Mechanisms {
                    digest: true,
                    ntlm: false,
                },
            )
            .await
            .unwrap();
        assert!(
            store
                .nt_hash("alice@example.test", &key())
                .await
                .unwrap()
                .is_none()
        );
        store
            .set_mechanisms("alice@example.test", Mechanisms::ALL)
            .await
            .unwrap();
        assert!(
            store
                .nt_hash("alice@example.test", &key())
                .await
                .unwrap()
                .is_none(),
            "needs the password again"
        );
        store
            .set_password("alice@example.test", "pw2", REALM, &key())
            .await
            .unwrap();
        let nt = store.nt_hash("alice@example.test", &key()).await.unwrap();
        assert_eq!(
            nt.as_ref(),
            Some(sipae::NtHash::from_password("pw2").as_bytes())
        );

        store
            .set_mechanisms(
                "alice@example.test",
                Mechanisms {
                    digest: false,
                    ntlm: true,
                },
            )
            .await
            .unwrap();
        let ha1 = store
            .digest_ha1("alice@example.test", Algorithm::Md5, "alice", REALM, &key())
            .await
            .unwrap();
        assert!(ha1.is_none(), "Digest is off for this account");
        assert!(matches!(
            store
                .set_mechanisms("nobody@example.test", Mechanisms::ALL)
                .await,
            Err(StoreError::NotFound(_))
        ));
        engine.finish().await;
    }
}

#[tokio::test]
async fn accounts_without_password_exist_but_have_no_secrets() {
    for engine in engines().await {
        let store = &engine.store;
        let users = store
            .add_users_without_password(&["load1@example.test", "sip:Load2@example.test"])
            .await
            .unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].uri, "sip:load2@example.test");
        let found = store.user("load1@example.test").await.unwrap().unwrap();
        assert_eq!(found.id, users[0].id);
        assert!(
            !store
                .verify_password("load1@example.test", "")
                .await
                .unwrap()
        );
        let ha1 = store
            .digest_ha1("load1@example.test", Algorithm::Md5, "load1", REALM, &key())
            .await
            .unwrap();
        assert_eq!(ha1, None);
        assert_eq!(
            store.nt_hash("load1@example.test", &key()).await.unwrap(),
            None
        );
        let again = store
            .add_users_without_password(&["load3@example.test", "load1@example.test"])
            .await;
        assert!(matches!(again, Err(StoreError::Duplicate(_))));
        assert!(
            store.user("load3@example.test").await.unwrap().is_none(),
            "all or nothing"
        );
        engine.finish().await;
    }
}
