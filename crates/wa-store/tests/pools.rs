//! Session pools and the default session (issue 12) on both backends: create / update /
//! delete, token uniqueness against pools and accounts, members that must exist, the default
//! session set, cleared and cleared by the account's deletion, session metadata kept, and
//! `check()` / export / import carrying pools.

mod common;

use common::{account_id, mem, sled, test_dir};
use wa_store::{
    Account, BackupProblem, Durability, Error, MemStore, Pool, Secret, Store, MAX_POOL_NAME,
};

const D: Durability = Durability::Durable;

fn account(n: u8) -> Account {
    Account::new(
        account_id(n),
        format!("member{n}"),
        format!("tok-{n}"),
        1000,
    )
}

fn pool(name: &str, token: &str, members: &[u8]) -> Pool {
    Pool {
        name: name.into(),
        token: Secret::new(token.into()),
        members: members.iter().map(|n| account_id(*n)).collect(),
        description: "otp senders".into(),
        created_ms: 5,
        updated_ms: 6,
    }
}

fn pools_round_trip(s: &dyn Store) {
    for n in 1..=3 {
        s.create_account(&account(n), D).expect("account");
    }
    let p = pool("otp", "pool-token", &[1, 2, 3]);
    s.create_pool(&p, D).expect("create");
    assert_eq!(s.pool("otp").expect("read"), Some(p.clone()));
    assert_eq!(
        s.pool_by_token("pool-token").expect("read"),
        Some(p.clone())
    );
    assert_eq!(s.pool_by_token("nope").expect("read"), None);
    assert!(matches!(s.create_pool(&p, D), Err(Error::PoolExists(n)) if n == "otp"));

    // Tokens: no other pool's, no account's.
    let clash = pool("other", "pool-token", &[1]);
    assert!(matches!(s.create_pool(&clash, D), Err(Error::TokenTaken)));
    let clash = pool("other", "tok-2", &[1]);
    assert!(matches!(s.create_pool(&clash, D), Err(Error::TokenTaken)));
    // Members must be accounts, listed once; names are checked.
    let ghost = pool("other", "t2", &[9]);
    assert!(matches!(
        s.create_pool(&ghost, D),
        Err(Error::AccountNotFound(_))
    ));
    let twice = pool("other", "t2", &[1, 1]);
    assert!(matches!(
        s.create_pool(&twice, D),
        Err(Error::InvalidInput { .. })
    ));
    for bad in ["", "a b", "x/y", &"n".repeat(MAX_POOL_NAME + 1)] {
        let p = pool(bad, "t2", &[1]);
        assert!(
            matches!(s.create_pool(&p, D), Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
    }

    // Update keeps the name; an unknown pool is refused.
    let mut changed = p.clone();
    changed.members = vec![account_id(3), account_id(1)];
    changed.token = Secret::new("new-token".into());
    s.update_pool(&changed, D).expect("update");
    assert_eq!(s.pool_by_token("pool-token").expect("read"), None);
    assert_eq!(s.pool("otp").expect("read"), Some(changed));
    let unknown = pool("unknown", "t3", &[1]);
    assert!(matches!(
        s.update_pool(&unknown, D),
        Err(Error::PoolNotFound(_))
    ));

    s.create_pool(&pool("b-pool", "t4", &[2]), D)
        .expect("second");
    let names: Vec<String> = s
        .pools()
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["b-pool", "otp"]);
    assert!(s.check().expect("check").is_ok());
    assert!(s.delete_pool("b-pool", D).expect("delete"));
    assert!(!s.delete_pool("b-pool", D).expect("delete again"));
}

fn default_session(s: &dyn Store) {
    assert_eq!(s.default_account().expect("read"), None);
    s.create_account(&account(1), D).expect("account");
    s.create_account(&account(2), D).expect("account");
    assert!(matches!(
        s.set_default_account(Some(&account_id(7)), D),
        Err(Error::AccountNotFound(_))
    ));
    s.set_default_account(Some(&account_id(1)), D).expect("set");
    assert_eq!(s.default_account().expect("read"), Some(account_id(1)));
    s.set_default_account(Some(&account_id(2)), D)
        .expect("move");
    assert_eq!(s.default_account().expect("read"), Some(account_id(2)));
    assert!(s.check().expect("check").is_ok());
    // Deleting the default account clears the default (and the store stays consistent).
    s.delete_account(&account_id(2), D).expect("delete");
    assert_eq!(s.default_account().expect("read"), None);
    assert!(s.check().expect("check").is_ok());
    s.set_default_account(Some(&account_id(1)), D).expect("set");
    s.set_default_account(None, D).expect("clear");
    assert_eq!(s.default_account().expect("read"), None);
}

fn session_metadata(s: &dyn Store) {
    let mut a = account(1);
    assert!(a.active, "new accounts are active");
    assert_eq!((a.description.as_str(), a.country_code.as_str()), ("", ""));
    s.create_account(&a, D).expect("account");
    a.description = "OTP sender".into();
    a.active = false;
    a.country_code = "62".into();
    s.update_account(&a, D).expect("update");
    assert_eq!(s.account(&a.id).expect("read"), Some(a));
}

fn backups_carry_pools(s: &dyn Store) {
    for n in 1..=2 {
        s.create_account(&account(n), D).expect("account");
    }
    s.create_pool(&pool("otp", "pool-token", &[1, 2]), D)
        .expect("pool");
    s.set_default_account(Some(&account_id(1)), D)
        .expect("default");
    let dir = test_dir("pools-backup");
    let all = dir.path().join("all.wabk");
    s.export(None, &all).expect("export");
    let copy = MemStore::new();
    copy.import(&all, D).expect("import");
    assert_eq!(copy.pools().expect("pools"), s.pools().expect("pools"));
    assert_eq!(
        copy.default_account().expect("default"),
        Some(account_id(1))
    );
    assert!(copy.check().expect("check").is_ok());
    // A pool that exists already refuses the import (before anything is written).
    let other = MemStore::new();
    other.create_account(&account(3), D).expect("account");
    other
        .create_pool(&pool("otp", "elsewhere", &[3]), D)
        .expect("pool");
    assert!(matches!(
        other.import(&all, D),
        Err(Error::Backup {
            problem: BackupProblem::PoolExists(_),
            ..
        })
    ));
    // A one-account export carries no pool.
    let one = dir.path().join("one.wabk");
    s.export(Some(&account_id(2)), &one).expect("export one");
    let fresh = MemStore::new();
    fresh.import(&one, D).expect("import one");
    assert!(fresh.pools().expect("pools").is_empty());
    assert_eq!(fresh.default_account().expect("default"), None);
}

macro_rules! both {
    ($($name:ident),*) => {
        mod mem_store {
            $(#[test] fn $name() { super::$name(&*super::mem().store) })*
        }
        mod sled_store {
            $(#[test] fn $name() { super::$name(&*super::sled().store) })*
        }
    };
}

both!(
    pools_round_trip,
    default_session,
    session_metadata,
    backups_carry_pools
);
