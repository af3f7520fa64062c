//! The record logic shared by both backends, written once over [`Engine`].

use prost::Message;
use rand_core::CryptoRngCore;
use wa_protocol::signal::{KeyPair, PublicKey};

use crate::engine::{Engine, Live, ReadView, TxError, TxResult, TxView};
use crate::error::{Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::records::{self, decode, encode};
use crate::types::{
    Account, AccountId, DeviceIdentity, Durability, Enqueued, IdentityChange, IncomingSession,
    NewOutbound, OneTimePreKey, OutboxEntry, OutboxStatus, OutboxUpdate, PreKeyCounts, SendStep,
    SignedPreKey,
};

/// Highest store schema this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// One-time prekey ids are 24 bits on the wire; they run 1 ..= MAX and wrap.
pub(crate) const MAX_PREKEY_ID: u32 = 0x00FF_FFFF;

const MAX_MESSAGE_ID: usize = 256;

pub(crate) struct Core<E> {
    pub(crate) engine: E,
}

fn check_message_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_MESSAGE_ID {
        return Err(Error::InvalidInput {
            what: "message id",
            reason: "must be 1 to 256 bytes",
        });
    }
    Ok(())
}

fn opaque(record: &[u8]) -> Vec<u8> {
    encode(&pb::OpaqueRecord {
        record: record.to_vec(),
    })
}

fn tx_decode<M: Message + Default, T>(
    tree: TreeId,
    key: &[u8],
    bytes: &[u8],
    convert: impl FnOnce(M) -> std::result::Result<T, crate::error::CorruptReason>,
) -> TxResult<T> {
    decode(tree, key, bytes, convert).map_err(TxError::Abort)
}

/// The account record of `a` as `view` sees it.
pub(crate) fn account_in(view: &dyn ReadView, a: &AccountId) -> Result<Option<Account>> {
    let k = keys::account(a);
    view.get(TreeId::Accounts, &k)?
        .map(|v| decode(TreeId::Accounts, &k, &v, records::account_from_pb))
        .transpose()
}

impl<E: Engine> Core<E> {
    pub(crate) fn new(engine: E) -> Self {
        Self { engine }
    }

    /// Reads the schema record; writes it into an empty store.
    pub(crate) fn init_schema(&self, fresh: bool) -> Result<()> {
        let key = keys::SCHEMA_KEY;
        match self.engine.get(TreeId::Meta, key)? {
            Some(v) => {
                let found = decode(TreeId::Meta, key, &v, |m: pb::SchemaInfo| {
                    Ok(m.schema_version)
                })?;
                if found > SCHEMA_VERSION {
                    return Err(Error::NewerSchema {
                        path: self.engine.path().to_path_buf(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                Ok(())
            }
            None if fresh => {
                let info = pb::SchemaInfo {
                    schema_version: SCHEMA_VERSION,
                    writer: concat!("wa-store ", env!("CARGO_PKG_VERSION")).to_string(),
                };
                self.engine.insert(TreeId::Meta, key, encode(&info))?;
                self.engine.flush()
            }
            None => Err(Error::Foreign {
                path: self.engine.path().to_path_buf(),
                reason: "records present but no schema record",
            }),
        }
    }

    pub(crate) fn done(&self, d: Durability) -> Result<()> {
        match d {
            Durability::Buffered => Ok(()),
            // The engine shares syncs between concurrent durable writers (group commit).
            Durability::Durable => self.engine.flush(),
        }
    }

    pub(crate) fn flush(&self) -> Result<()> {
        self.done(Durability::Durable)
    }

    fn put(&self, tree: TreeId, key: &[u8], value: Vec<u8>, d: Durability) -> Result<()> {
        self.engine.insert(tree, key, value)?;
        self.done(d)
    }

    fn del(&self, tree: TreeId, key: &[u8], d: Durability) -> Result<()> {
        self.engine.remove(tree, key)?;
        self.done(d)
    }

    fn keys_with_prefix(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.engine.scan(tree, prefix, &mut |k, _| {
            out.push(k.to_vec());
            Ok(true)
        })?;
        Ok(out)
    }

    // ----- device identity -----

    pub(crate) fn save_device(
        &self,
        a: &AccountId,
        d: &DeviceIdentity,
        dur: Durability,
    ) -> Result<()> {
        let v = encode(&records::device_to_pb(d));
        self.put(TreeId::Devices, &keys::account(a), v, dur)
    }

    pub(crate) fn device(&self, a: &AccountId) -> Result<Option<DeviceIdentity>> {
        let k = keys::account(a);
        self.engine
            .get(TreeId::Devices, &k)?
            .map(|v| decode(TreeId::Devices, &k, &v, records::device_from_pb))
            .transpose()
    }

    // ----- identities -----

    fn tx_save_identity(
        tx: &dyn TxView,
        key: &[u8],
        identity: &PublicKey,
    ) -> TxResult<IdentityChange> {
        let old = match tx.get(TreeId::Identities, key)? {
            Some(v) => Some(tx_decode(
                TreeId::Identities,
                key,
                &v,
                records::identity_from_pb,
            )?),
            None => None,
        };
        let change = match old {
            None => IdentityChange::New,
            Some(p) if p == *identity => return Ok(IdentityChange::Unchanged),
            Some(previous) => IdentityChange::Changed { previous },
        };
        let v = encode(&pb::PeerIdentity {
            public_key: identity.as_bytes().to_vec(),
        });
        tx.insert(TreeId::Identities, key, v)?;
        Ok(change)
    }

    pub(crate) fn save_identity(
        &self,
        a: &AccountId,
        address: &str,
        identity: &PublicKey,
        dur: Durability,
    ) -> Result<IdentityChange> {
        let k = keys::named(a, "address", address)?;
        let c = self
            .engine
            .transact(|tx| Self::tx_save_identity(tx, &k, identity))?;
        self.done(dur)?;
        Ok(c)
    }

    pub(crate) fn identity(&self, a: &AccountId, address: &str) -> Result<Option<PublicKey>> {
        let k = keys::named(a, "address", address)?;
        self.engine
            .get(TreeId::Identities, &k)?
            .map(|v| decode(TreeId::Identities, &k, &v, records::identity_from_pb))
            .transpose()
    }

    // ----- sessions and sender keys -----

    fn load_opaque(&self, tree: TreeId, k: &[u8]) -> Result<Option<Vec<u8>>> {
        self.engine
            .get(tree, k)?
            .map(|v| decode(tree, k, &v, |m: pb::OpaqueRecord| Ok(m.record)))
            .transpose()
    }

    pub(crate) fn load_session(&self, a: &AccountId, address: &str) -> Result<Option<Vec<u8>>> {
        self.load_opaque(TreeId::Sessions, &keys::named(a, "address", address)?)
    }

    pub(crate) fn save_session(
        &self,
        a: &AccountId,
        address: &str,
        record: &[u8],
        dur: Durability,
    ) -> Result<()> {
        let k = keys::named(a, "address", address)?;
        self.put(TreeId::Sessions, &k, opaque(record), dur)
    }

    pub(crate) fn delete_session(
        &self,
        a: &AccountId,
        address: &str,
        dur: Durability,
    ) -> Result<()> {
        self.del(TreeId::Sessions, &keys::named(a, "address", address)?, dur)
    }

    pub(crate) fn session_addresses(&self, a: &AccountId) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.engine
            .scan(TreeId::Sessions, a.as_bytes(), &mut |k, _| {
                let name = &k[AccountId::LEN..];
                out.push(String::from_utf8_lossy(name).into_owned());
                Ok(true)
            })?;
        Ok(out)
    }

    pub(crate) fn load_sender_key(
        &self,
        a: &AccountId,
        group: &str,
        sender: &str,
    ) -> Result<Option<Vec<u8>>> {
        self.load_opaque(TreeId::SenderKeys, &keys::sender_key(a, group, sender)?)
    }

    pub(crate) fn save_sender_key(
        &self,
        a: &AccountId,
        group: &str,
        sender: &str,
        record: &[u8],
        dur: Durability,
    ) -> Result<()> {
        let k = keys::sender_key(a, group, sender)?;
        self.put(TreeId::SenderKeys, &k, opaque(record), dur)
    }

    pub(crate) fn delete_sender_key(
        &self,
        a: &AccountId,
        group: &str,
        sender: &str,
        dur: Durability,
    ) -> Result<()> {
        self.del(
            TreeId::SenderKeys,
            &keys::sender_key(a, group, sender)?,
            dur,
        )
    }

    // ----- prekeys -----

    pub(crate) fn add_prekeys(
        &self,
        a: &AccountId,
        count: u32,
        mut rng: &mut dyn CryptoRngCore,
        dur: Durability,
    ) -> Result<Vec<(u32, PublicKey)>> {
        if count == 0 || count > 10_000 {
            return Err(Error::InvalidInput {
                what: "prekey count",
                reason: "must be 1 to 10000",
            });
        }
        // Randomness is drawn before the transaction, whose closure may run more than once.
        let pairs: Vec<KeyPair> = (0..count).map(|_| KeyPair::generate(&mut rng)).collect();
        let meta_key = keys::account(a);
        let ids = self.engine.transact(|tx| {
            let mut next = match tx.get(TreeId::PreKeyMeta, &meta_key)? {
                Some(v) => tx_decode(TreeId::PreKeyMeta, &meta_key, &v, |m: pb::PreKeyMeta| {
                    Ok(m.next_id)
                })?,
                None => 1,
            };
            let mut ids = Vec::with_capacity(pairs.len());
            for kp in &pairs {
                if next == 0 || next > MAX_PREKEY_ID {
                    next = 1;
                }
                let p = OneTimePreKey {
                    id: next,
                    key_pair: kp.clone(),
                    uploaded: false,
                };
                tx.insert(
                    TreeId::PreKeys,
                    &keys::numbered(a, next),
                    encode(&records::prekey_to_pb(&p)),
                )?;
                ids.push((next, kp.public));
                next += 1;
            }
            tx.insert(
                TreeId::PreKeyMeta,
                &meta_key,
                encode(&pb::PreKeyMeta { next_id: next }),
            )?;
            Ok(ids)
        })?;
        self.done(dur)?;
        Ok(ids)
    }

    pub(crate) fn load_prekey(&self, a: &AccountId, id: u32) -> Result<Option<OneTimePreKey>> {
        let k = keys::numbered(a, id);
        self.engine
            .get(TreeId::PreKeys, &k)?
            .map(|v| decode(TreeId::PreKeys, &k, &v, records::prekey_from_pb))
            .transpose()
    }

    fn scan_prekeys(&self, a: &AccountId, f: &mut dyn FnMut(OneTimePreKey) -> bool) -> Result<()> {
        self.engine
            .scan(TreeId::PreKeys, a.as_bytes(), &mut |k, v| {
                let p = decode(TreeId::PreKeys, k, v, records::prekey_from_pb)?;
                Ok(f(p))
            })
    }

    pub(crate) fn prekeys_to_upload(
        &self,
        a: &AccountId,
        limit: usize,
    ) -> Result<Vec<OneTimePreKey>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan_prekeys(a, &mut |p| {
            if !p.uploaded {
                out.push(p);
            }
            out.len() < limit
        })?;
        Ok(out)
    }

    pub(crate) fn prekey_counts(&self, a: &AccountId) -> Result<PreKeyCounts> {
        let mut c = PreKeyCounts::default();
        self.scan_prekeys(a, &mut |p| {
            c.total += 1;
            c.uploaded += u32::from(p.uploaded);
            true
        })?;
        Ok(c)
    }

    pub(crate) fn mark_prekeys_uploaded(
        &self,
        a: &AccountId,
        ids: &[u32],
        dur: Durability,
    ) -> Result<()> {
        self.engine.transact(|tx| {
            for &id in ids {
                let k = keys::numbered(a, id);
                // A prekey consumed meanwhile is simply gone: nothing to mark.
                if let Some(v) = tx.get(TreeId::PreKeys, &k)? {
                    let mut p = tx_decode(TreeId::PreKeys, &k, &v, records::prekey_from_pb)?;
                    if !p.uploaded {
                        p.uploaded = true;
                        tx.insert(TreeId::PreKeys, &k, encode(&records::prekey_to_pb(&p)))?;
                    }
                }
            }
            Ok(())
        })?;
        self.done(dur)
    }

    pub(crate) fn remove_prekey(&self, a: &AccountId, id: u32, dur: Durability) -> Result<()> {
        self.del(TreeId::PreKeys, &keys::numbered(a, id), dur)
    }

    pub(crate) fn save_signed_prekey(
        &self,
        a: &AccountId,
        s: &SignedPreKey,
        dur: Durability,
    ) -> Result<()> {
        let v = encode(&records::signed_prekey_to_pb(s));
        self.put(TreeId::SignedPreKeys, &keys::numbered(a, s.id), v, dur)
    }

    pub(crate) fn load_signed_prekey(
        &self,
        a: &AccountId,
        id: u32,
    ) -> Result<Option<SignedPreKey>> {
        let k = keys::numbered(a, id);
        self.engine
            .get(TreeId::SignedPreKeys, &k)?
            .map(|v| {
                decode(
                    TreeId::SignedPreKeys,
                    &k,
                    &v,
                    records::signed_prekey_from_pb,
                )
            })
            .transpose()
    }

    pub(crate) fn remove_signed_prekey(
        &self,
        a: &AccountId,
        id: u32,
        dur: Durability,
    ) -> Result<()> {
        self.del(TreeId::SignedPreKeys, &keys::numbered(a, id), dur)
    }

    // ----- atomic commits -----

    pub(crate) fn commit_incoming(
        &self,
        a: &AccountId,
        inc: &IncomingSession<'_>,
        dur: Durability,
    ) -> Result<Option<IdentityChange>> {
        let sk = keys::named(a, "address", inc.session.address)?;
        let value = opaque(inc.session.record);
        let pk = inc.prekey_id.map(|id| keys::numbered(a, id));
        let prefetch: Vec<(TreeId, &[u8])> =
            pk.iter().map(|k| (TreeId::PreKeys, k.as_slice())).collect();
        let change = self.engine.transact_prefetch(&prefetch, |tx| {
            if let (Some(id), Some(pk)) = (inc.prekey_id, &pk) {
                if tx.get(TreeId::PreKeys, pk)?.is_none() {
                    return Err(Error::PreKeyNotFound { account: *a, id }.into());
                }
                tx.remove(TreeId::PreKeys, pk)?;
            }
            tx.insert(TreeId::Sessions, &sk, value.clone())?;
            match &inc.identity {
                Some(ik) => Ok(Some(Self::tx_save_identity(tx, &sk, ik)?)),
                None => Ok(None),
            }
        })?;
        self.done(dur)?;
        Ok(change)
    }

    pub(crate) fn commit_send(
        &self,
        a: &AccountId,
        step: &SendStep<'_>,
        dur: Durability,
    ) -> Result<()> {
        check_message_id(step.message_id)?;
        let ok = keys::named(a, "message id", step.message_id)?;
        let mut sessions = Vec::with_capacity(step.sessions.len());
        for s in step.sessions {
            sessions.push((keys::named(a, "address", s.address)?, opaque(s.record)));
        }
        let sender = match &step.sender_key {
            Some(u) => Some((keys::sender_key(a, u.group, u.sender)?, opaque(u.record))),
            None => None,
        };
        self.engine.transact(|tx| {
            let mut e = Self::tx_outbox(tx, a, &ok, step.message_id)?;
            if e.status != OutboxStatus::Queued {
                return Err(Error::InvalidTransition {
                    account: *a,
                    message_id: step.message_id.to_string(),
                    from: e.status,
                    to: OutboxStatus::Sent,
                }
                .into());
            }
            tx.remove(
                TreeId::OutboxDue,
                &keys::due(a, e.next_attempt_ms, &e.message_id),
            )?;
            e.status = OutboxStatus::Sent;
            e.attempts = e.attempts.saturating_add(1);
            e.updated_ms = step.now_ms;
            tx.insert(TreeId::Outbox, &ok, encode(&records::outbox_to_pb(&e)))?;
            for (k, v) in &sessions {
                tx.insert(TreeId::Sessions, k, v.clone())?;
            }
            if let Some((k, v)) = &sender {
                tx.insert(TreeId::SenderKeys, k, v.clone())?;
            }
            Ok(())
        })?;
        self.done(dur)
    }

    // ----- accounts -----

    fn tx_account(tx: &dyn TxView, a: &AccountId) -> TxResult<Option<Account>> {
        let k = keys::account(a);
        match tx.get(TreeId::Accounts, &k)? {
            Some(v) => Ok(Some(tx_decode(
                TreeId::Accounts,
                &k,
                &v,
                records::account_from_pb,
            )?)),
            None => Ok(None),
        }
    }

    fn tx_claim_token(tx: &dyn TxView, tk: &[u8], owner: &AccountId) -> TxResult<()> {
        if let Some(v) = tx.get(TreeId::Tokens, tk)? {
            let cur = tx_decode(TreeId::Tokens, tk, &v, |m: pb::TokenOwner| {
                AccountId::from_slice(&m.account_id)
                    .ok_or(crate::error::CorruptReason::BadField("account_id"))
            })?;
            if cur != *owner {
                return Err(Error::TokenTaken.into());
            }
        }
        let v = encode(&pb::TokenOwner {
            account_id: owner.as_bytes().to_vec(),
        });
        tx.insert(TreeId::Tokens, tk, v)?;
        Ok(())
    }

    pub(crate) fn create_account(&self, acc: &Account, dur: Durability) -> Result<()> {
        let tk = keys::token(acc.token.expose())?;
        let v = encode(&records::account_to_pb(acc));
        self.engine.transact(|tx| {
            if Self::tx_account(tx, &acc.id)?.is_some() {
                return Err(Error::AccountExists(acc.id).into());
            }
            Self::tx_claim_token(tx, &tk, &acc.id)?;
            tx.insert(TreeId::Accounts, &keys::account(&acc.id), v.clone())?;
            Ok(())
        })?;
        self.done(dur)
    }

    pub(crate) fn update_account(&self, acc: &Account, dur: Durability) -> Result<()> {
        let tk = keys::token(acc.token.expose())?;
        let v = encode(&records::account_to_pb(acc));
        self.engine.transact(|tx| {
            let old = Self::tx_account(tx, &acc.id)?.ok_or(Error::AccountNotFound(acc.id))?;
            if old.token != acc.token {
                Self::tx_claim_token(tx, &tk, &acc.id)?;
                tx.remove(TreeId::Tokens, &keys::token(old.token.expose())?)?;
            }
            tx.insert(TreeId::Accounts, &keys::account(&acc.id), v.clone())?;
            Ok(())
        })?;
        self.done(dur)
    }

    pub(crate) fn account(&self, a: &AccountId) -> Result<Option<Account>> {
        account_in(&Live(&self.engine), a)
    }

    pub(crate) fn account_by_token(&self, token: &str) -> Result<Option<Account>> {
        let Ok(tk) = keys::token(token) else {
            return Ok(None);
        };
        let Some(v) = self.engine.get(TreeId::Tokens, &tk)? else {
            return Ok(None);
        };
        let id = decode(TreeId::Tokens, &tk, &v, |m: pb::TokenOwner| {
            AccountId::from_slice(&m.account_id)
                .ok_or(crate::error::CorruptReason::BadField("account_id"))
        })?;
        // Double-check the owner still holds this token (the index is updated atomically, so a
        // mismatch means corruption; report nothing rather than the wrong account).
        Ok(self.account(&id)?.filter(|acc| acc.token.expose() == token))
    }

    pub(crate) fn accounts(&self) -> Result<Vec<Account>> {
        let mut out = Vec::new();
        self.engine.scan(TreeId::Accounts, &[], &mut |k, v| {
            out.push(decode(TreeId::Accounts, k, v, records::account_from_pb)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Removes every key of `trees` under the account's prefix (plus `extra` keys) atomically.
    fn wipe(&self, a: &AccountId, trees: &[TreeId], extra: &[(TreeId, Vec<u8>)]) -> Result<()> {
        let mut doomed: Vec<(TreeId, Vec<u8>)> = extra.to_vec();
        for &t in trees {
            for k in self.keys_with_prefix(t, a.as_bytes())? {
                doomed.push((t, k));
            }
        }
        self.engine.transact(|tx| {
            for (t, k) in &doomed {
                tx.remove(*t, k)?;
            }
            Ok(())
        })
    }

    pub(crate) fn logout(&self, a: &AccountId, dur: Durability) -> Result<()> {
        self.wipe(a, &TreeId::DEVICE_STATE, &[])?;
        self.done(dur)
    }

    pub(crate) fn delete_account(&self, a: &AccountId, dur: Durability) -> Result<()> {
        let acc = self.account(a)?.ok_or(Error::AccountNotFound(*a))?;
        let tk = keys::token(acc.token.expose())?;
        let mut trees = TreeId::DEVICE_STATE.to_vec();
        trees.extend([TreeId::Accounts, TreeId::Outbox, TreeId::OutboxDue]);
        self.wipe(a, &trees, &[(TreeId::Tokens, tk)])?;
        self.done(dur)
    }

    // ----- outbox -----

    fn tx_outbox(tx: &dyn TxView, a: &AccountId, k: &[u8], id: &str) -> TxResult<OutboxEntry> {
        match tx.get(TreeId::Outbox, k)? {
            Some(v) => tx_decode(TreeId::Outbox, k, &v, records::outbox_from_pb),
            None => Err(Error::OutboxNotFound {
                account: *a,
                message_id: id.to_string(),
            }
            .into()),
        }
    }

    pub(crate) fn enqueue(
        &self,
        a: &AccountId,
        m: &NewOutbound<'_>,
        dur: Durability,
    ) -> Result<Enqueued> {
        check_message_id(m.message_id)?;
        let k = keys::named(a, "message id", m.message_id)?;
        let entry = OutboxEntry {
            message_id: m.message_id.to_string(),
            chat: m.chat.to_string(),
            payload: m.payload.to_vec(),
            status: OutboxStatus::Queued,
            attempts: 0,
            next_attempt_ms: m.now_ms,
            created_ms: m.now_ms,
            updated_ms: m.now_ms,
        };
        let v = encode(&records::outbox_to_pb(&entry));
        let due = keys::due(a, m.now_ms, m.message_id);
        let due_v = encode(&pb::OutboxDue {});
        // A new message id is not in the overlay: its (absent) record is looked up on disk
        // before the write lock is taken.
        let r = self
            .engine
            .transact_prefetch(&[(TreeId::Outbox, &k)], |tx| {
                if let Some(old) = tx.get(TreeId::Outbox, &k)? {
                    let old = tx_decode(TreeId::Outbox, &k, &old, records::outbox_from_pb)?;
                    if old.chat != m.chat || old.payload != m.payload {
                        return Err(Error::OutboxConflict {
                            account: *a,
                            message_id: m.message_id.to_string(),
                        }
                        .into());
                    }
                    return Ok(Enqueued::AlreadyPresent(old));
                }
                tx.insert(TreeId::Outbox, &k, v.clone())?;
                // The entry is new, so is its due-index key (it only exists alongside its entry).
                tx.insert_new(TreeId::OutboxDue, &due, due_v.clone())?;
                Ok(Enqueued::Inserted)
            })?;
        // Also when already present: the entry found may be a buffered write not yet on disk.
        self.done(dur)?;
        Ok(r)
    }

    pub(crate) fn outbox_entry(&self, a: &AccountId, id: &str) -> Result<Option<OutboxEntry>> {
        let k = keys::named(a, "message id", id)?;
        self.engine
            .get(TreeId::Outbox, &k)?
            .map(|v| decode(TreeId::Outbox, &k, &v, records::outbox_from_pb))
            .transpose()
    }

    pub(crate) fn outbox_entries(&self, a: &AccountId) -> Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        self.engine
            .scan(TreeId::Outbox, a.as_bytes(), &mut |k, v| {
                out.push(decode(TreeId::Outbox, k, v, records::outbox_from_pb)?);
                Ok(true)
            })?;
        Ok(out)
    }

    pub(crate) fn outbox_due(
        &self,
        a: &AccountId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        let mut ids = Vec::new();
        if limit > 0 {
            self.engine
                .scan(TreeId::OutboxDue, a.as_bytes(), &mut |k, _| {
                    let (at, id) = keys::parse_due(k).ok_or_else(|| {
                        Error::corrupt(
                            TreeId::OutboxDue.name(),
                            k,
                            crate::error::CorruptReason::BadKey,
                        )
                    })?;
                    if at > now_ms {
                        return Ok(false);
                    }
                    ids.push(id.to_string());
                    Ok(ids.len() < limit)
                })?;
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            // An entry sent between the index scan and this read is skipped.
            if let Some(e) = self.outbox_entry(a, &id)? {
                if e.status == OutboxStatus::Queued {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn update_outbox(
        &self,
        a: &AccountId,
        id: &str,
        update: OutboxUpdate,
        now_ms: u64,
        dur: Durability,
    ) -> Result<OutboxEntry> {
        let k = keys::named(a, "message id", id)?;
        let due_v = encode(&pb::OutboxDue {});
        let e = self.engine.transact(|tx| {
            let mut e = Self::tx_outbox(tx, a, &k, id)?;
            let (allowed, to) = match update {
                OutboxUpdate::Acked => (e.status == OutboxStatus::Sent, OutboxStatus::Acked),
                OutboxUpdate::Failed => (
                    matches!(e.status, OutboxStatus::Queued | OutboxStatus::Sent),
                    OutboxStatus::Failed,
                ),
                OutboxUpdate::Retry { .. } => (
                    matches!(e.status, OutboxStatus::Queued | OutboxStatus::Sent),
                    OutboxStatus::Queued,
                ),
            };
            if !allowed {
                return Err(Error::InvalidTransition {
                    account: *a,
                    message_id: id.to_string(),
                    from: e.status,
                    to,
                }
                .into());
            }
            if e.status == OutboxStatus::Queued {
                tx.remove(TreeId::OutboxDue, &keys::due(a, e.next_attempt_ms, id))?;
            }
            if let OutboxUpdate::Retry { at_ms } = update {
                e.next_attempt_ms = at_ms;
                tx.insert(TreeId::OutboxDue, &keys::due(a, at_ms, id), due_v.clone())?;
            }
            e.status = to;
            e.updated_ms = now_ms;
            tx.insert(TreeId::Outbox, &k, encode(&records::outbox_to_pb(&e)))?;
            Ok(e)
        })?;
        self.done(dur)?;
        Ok(e)
    }

    pub(crate) fn remove_outbox(&self, a: &AccountId, id: &str, dur: Durability) -> Result<bool> {
        let k = keys::named(a, "message id", id)?;
        let removed = self.engine.transact(|tx| {
            let Some(v) = tx.get(TreeId::Outbox, &k)? else {
                return Ok(false);
            };
            let e = tx_decode(TreeId::Outbox, &k, &v, records::outbox_from_pb)?;
            if e.status == OutboxStatus::Queued {
                tx.remove(TreeId::OutboxDue, &keys::due(a, e.next_attempt_ms, id))?;
            }
            tx.remove(TreeId::Outbox, &k)?;
            Ok(true)
        })?;
        self.done(dur)?;
        Ok(removed)
    }
}
