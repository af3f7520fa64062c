// Node.js peer for the wa-protocol Signal interop test.
//
// Pairwise sessions run on libsignal-node (npm `libsignal` 6.0.0, the library Baileys uses),
// group sender keys on Baileys' own group cipher (`@whiskeysockets/baileys`
// lib/Signal/Group, on top of libsignal-node's crypto), and XEdDSA is cross-checked with
// `@signalapp/libsignal-client`. Records go through each library's own serialisation between
// calls, as a real Baileys key store does.
//
// Protocol: one JSON object per line on stdin, one JSON reply per line on stdout:
//   request  {"id": N, "cmd": "...", ...args}
//   reply    {"id": N, "ok": true, ...result}  or  {"id": N, "ok": false, "error": "..."}
// Binary values are hex strings; public keys are the 33-byte 0x05-prefixed Signal form unless
// noted. Logs go to stderr only. The process exits when stdin closes.
//
// Commands:
//   new_party      {party}                          -> {identityKey, registrationId}
//   bundle         {party, withPreKey}              -> {registrationId, identityKey,
//                                                       signedPreKey{keyId,publicKey,signature},
//                                                       preKey?{keyId,publicKey}}
//   process_bundle {party, peer, bundle}            -> {}
//   encrypt        {party, peer, plaintext}         -> {type: "pkmsg"|"msg", body}
//   decrypt        {party, peer, type, body}        -> {plaintext}
//   sk_create      {party, group}                   -> {skdm}
//   sk_process     {party, group, sender, skdm}     -> {}
//   sk_encrypt     {party, group, plaintext}        -> {ciphertext}
//   sk_decrypt     {party, group, sender, ciphertext} -> {plaintext}
//   xeddsa_keypair {}                               -> {private (32), public (33)}   (libsignal-client)
//   xeddsa_sign    {private, message}               -> {signature}                   (libsignal-client)
//   xeddsa_verify  {public, message, signature}     -> {client: bool, node: bool}
//                  (libsignal-client and libsignal-node's curve25519-js)
//   versions       {}                               -> {libsignal, libsignalClient, baileys}

import { createRequire } from 'node:module';
import readline from 'node:readline';

import * as Group from '@whiskeysockets/baileys/lib/Signal/Group/index.js';
import { BufferJSON } from '@whiskeysockets/baileys/lib/Utils/generics.js';

const require = createRequire(import.meta.url);
const libsignal = require('libsignal');
const client = require('@signalapp/libsignal-client');

// Nothing but replies may reach stdout.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (s) => Buffer.from(s, 'hex');

const parties = new Map();

function party(name) {
    const p = parties.get(name);
    if (!p) {
        throw new Error(`unknown party ${name}`);
    }
    return p;
}

function newParty(name) {
    const identity = libsignal.keyhelper.generateIdentityKeyPair();
    const registrationId = libsignal.keyhelper.generateRegistrationId();
    const signedPreKey = libsignal.keyhelper.generateSignedPreKey(identity, 1);
    const p = {
        identity,
        registrationId,
        signedPreKey,
        preKeys: new Map(),
        nextPreKeyId: 1,
        sessions: new Map(), // address -> serialized SessionRecord (JSON text)
        senderKeys: new Map(), // "group::sender" -> serialized SenderKeyRecord (JSON text)
    };
    p.store = {
        getOurIdentity: async () => p.identity,
        getOurRegistrationId: async () => p.registrationId,
        isTrustedIdentity: async () => true,
        loadSession: async (addr) => {
            const text = p.sessions.get(addr);
            return text ? libsignal.SessionRecord.deserialize(JSON.parse(text)) : undefined;
        },
        storeSession: async (addr, record) => {
            p.sessions.set(addr, JSON.stringify(record.serialize()));
        },
        loadPreKey: async (id) => p.preKeys.get(id),
        removePreKey: async (id) => {
            p.preKeys.delete(id);
        },
        loadSignedPreKey: async (id) => (id === p.signedPreKey.keyId ? p.signedPreKey.keyPair : undefined),
        loadSenderKey: async (name) => {
            const text = p.senderKeys.get(name.toString());
            return text
                ? Group.SenderKeyRecord.deserialize(Buffer.from(text))
                : new Group.SenderKeyRecord();
        },
        storeSenderKey: async (name, record) => {
            p.senderKeys.set(name.toString(), JSON.stringify(record.serialize(), BufferJSON.replacer));
        },
    };
    parties.set(name, p);
    return p;
}

const address = (peer) => new libsignal.ProtocolAddress(peer, 1);

function senderKeyName(group, sender) {
    return new Group.SenderKeyName(group, {
        id: sender,
        deviceId: 1,
        toString: () => `${sender}.1`,
    });
}

const commands = {
    new_party: ({ party: name }) => {
        const p = newParty(name);
        return { identityKey: hex(p.identity.pubKey), registrationId: p.registrationId };
    },

    bundle: ({ party: name, withPreKey }) => {
        const p = party(name);
        const out = {
            registrationId: p.registrationId,
            identityKey: hex(p.identity.pubKey),
            signedPreKey: {
                keyId: p.signedPreKey.keyId,
                publicKey: hex(p.signedPreKey.keyPair.pubKey),
                signature: hex(p.signedPreKey.signature),
            },
        };
        if (withPreKey) {
            const pk = libsignal.keyhelper.generatePreKey(p.nextPreKeyId++);
            p.preKeys.set(pk.keyId, pk.keyPair);
            out.preKey = { keyId: pk.keyId, publicKey: hex(pk.keyPair.pubKey) };
        }
        return out;
    },

    process_bundle: async ({ party: name, peer, bundle }) => {
        const p = party(name);
        const device = {
            registrationId: bundle.registrationId,
            identityKey: unhex(bundle.identityKey),
            signedPreKey: {
                keyId: bundle.signedPreKey.keyId,
                publicKey: unhex(bundle.signedPreKey.publicKey),
                signature: unhex(bundle.signedPreKey.signature),
            },
        };
        if (bundle.preKey) {
            device.preKey = { keyId: bundle.preKey.keyId, publicKey: unhex(bundle.preKey.publicKey) };
        }
        await new libsignal.SessionBuilder(p.store, address(peer)).initOutgoing(device);
        return {};
    },

    encrypt: async ({ party: name, peer, plaintext }) => {
        const p = party(name);
        const res = await new libsignal.SessionCipher(p.store, address(peer)).encrypt(unhex(plaintext));
        return { type: res.type === 3 ? 'pkmsg' : 'msg', body: hex(res.body) };
    },

    decrypt: async ({ party: name, peer, type, body }) => {
        const p = party(name);
        const cipher = new libsignal.SessionCipher(p.store, address(peer));
        const pt = type === 'pkmsg'
            ? await cipher.decryptPreKeyWhisperMessage(unhex(body))
            : await cipher.decryptWhisperMessage(unhex(body));
        return { plaintext: hex(pt) };
    },

    sk_create: async ({ party: name, group }) => {
        const p = party(name);
        const skdm = await new Group.GroupSessionBuilder(p.store).create(senderKeyName(group, name));
        return { skdm: hex(skdm.serialize()) };
    },

    sk_process: async ({ party: name, group, sender, skdm }) => {
        const p = party(name);
        const msg = new Group.SenderKeyDistributionMessage(null, null, null, null, unhex(skdm));
        await new Group.GroupSessionBuilder(p.store).process(senderKeyName(group, sender), msg);
        return {};
    },

    sk_encrypt: async ({ party: name, group, plaintext }) => {
        const p = party(name);
        const ct = await new Group.GroupCipher(p.store, senderKeyName(group, name)).encrypt(unhex(plaintext));
        return { ciphertext: hex(ct) };
    },

    sk_decrypt: async ({ party: name, group, sender, ciphertext }) => {
        const p = party(name);
        const pt = await new Group.GroupCipher(p.store, senderKeyName(group, sender)).decrypt(unhex(ciphertext));
        return { plaintext: hex(pt) };
    },

    xeddsa_keypair: () => {
        const key = client.PrivateKey.generate();
        return { private: hex(key.serialize()), public: hex(key.getPublicKey().serialize()) };
    },

    xeddsa_sign: ({ private: priv, message }) => {
        const key = client.PrivateKey.deserialize(unhex(priv));
        return { signature: hex(key.sign(unhex(message))) };
    },

    xeddsa_verify: ({ public: pub, message, signature }) => {
        let raw = unhex(pub);
        if (raw.length === 32) {
            raw = Buffer.concat([Buffer.from([5]), raw]);
        }
        const viaClient = client.PublicKey.deserialize(raw).verify(unhex(message), unhex(signature));
        let viaNode;
        try {
            viaNode = libsignal.curve.verifySignature(raw, unhex(message), unhex(signature), false);
        } catch (e) {
            viaNode = false;
        }
        return { client: viaClient, node: Boolean(viaNode) };
    },

    versions: () => ({
        libsignal: require('libsignal/package.json').version,
        libsignalClient: require('@signalapp/libsignal-client/package.json').version,
        baileys: require('@whiskeysockets/baileys/package.json').version,
    }),
};

// Requests run strictly one after another, in arrival order.
let chain = Promise.resolve();
const write = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
    if (!line.trim()) {
        return;
    }
    chain = chain.then(async () => {
        let req;
        try {
            req = JSON.parse(line);
        } catch (e) {
            write({ id: null, ok: false, error: `bad JSON: ${e.message}` });
            return;
        }
        const handler = commands[req.cmd];
        if (!handler) {
            write({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
            return;
        }
        try {
            const result = await handler(req);
            write({ id: req.id, ok: true, ...result });
        } catch (e) {
            write({ id: req.id, ok: false, error: String(e && (e.stack || e.message) || e) });
        }
    });
});
rl.on('close', () => {
    chain.then(() => process.exit(0));
});
write({ id: 0, ok: true, ready: true });
