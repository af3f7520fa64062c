// Drives an unmodified Baileys client against wa-sim for wagate's interop test.
//
// Usage: WA_SIM_URL=ws://127.0.0.1:PORT/ws/chat WA_SIM_ROOT_KEY=<64 hex> node baileys_client.mjs
//
// Optional env:
//   WA_LOG_LEVEL              Baileys log level on stderr (default "silent"; "trace" logs every stanza)
//   WA_RECONNECT_ON_RESTART   "1": after a close with status 515 (restart required, sent after pairing),
//                             reconnect with the same in-memory credentials instead of exiting
//   WA_RECONNECT              "1": reconnect after any close except loggedOut (401) and replaced (440)
//   WA_ECHO                   "1": answer every text received from someone else with "re: <text>"
//                             in the same chat (emits "message" and "sent" lines)
//   WA_MEDIA_EDGE             the sim's media host (ip:port from media_conn): routes Baileys' HTTPS
//                             media traffic to it through a local TLS edge (media_edge.mjs; needs
//                             WA_MEDIA_EDGE_CERT, WA_MEDIA_EDGE_KEY and NODE_EXTRA_CA_CERTS), and
//                             downloads every media message received (a "media" line each)
//
// Commands (stdin, one JSON object per line; each answered with a "sent" or "send-error" line
// carrying the command's "ref"):
//   {"cmd":"send","to":JID,"text":T,"ref":R}                       a text
//   {"cmd":"react","to":JID,"target":ID,"fromMe":BOOL,"emoji":E,"ref":R}  a reaction to message ID
//   {"cmd":"edit","to":JID,"target":ID,"text":T,"ref":R}           edits our own message ID
//   {"cmd":"revoke","to":JID,"target":ID,"ref":R}                  deletes our own message ID for everyone
//   {"cmd":"send-media","to":JID,"kind":"image"|"document"|"audio"|"video"|"sticker",
//    "data":BASE64,"mimetype":M,"caption":C?,"fileName":F?,"ptt":BOOL?,"seconds":N?,
//    "jpegThumbnail":BASE64?,"ref":R}                              a media message
// Commands are not awaited one by one: many sends are in flight at once.
//
// stdout carries only JSON lines, one per event (see README.md). Everything else goes to stderr.

import { createHash, createHmac } from 'node:crypto'
import { createInterface } from 'node:readline'
import makeWASocket, {
	downloadMediaMessage,
	getContentType,
	getMediaKeys,
	getUrlFromDirectPath,
	initAuthCreds,
	normalizeMessageContent,
	proto,
	WA_CERT_DETAILS
} from '@whiskeysockets/baileys'
import { startMediaEdge } from './media_edge.mjs'

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

// Minimal pino-like logger (the ILogger interface Baileys uses), writing to stderr only.
function makeLogger(level, bindings = {}) {
	const threshold = LEVELS[level] ?? Infinity
	const logger = { level, child: extra => makeLogger(level, { ...bindings, ...extra }) }
	for (const name of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
		logger[name] = (obj, msg) => {
			if (LEVELS[name] < threshold) {
				return
			}
			let line
			try {
				line = JSON.stringify({ level: name, ...bindings, obj, msg }, (_k, v) => {
					if (typeof v === 'bigint') return v.toString()
					if (v instanceof Error) return { message: v.message, stack: v.stack }
					if (v && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('hex')
					return v
				})
			} catch {
				line = `${name} ${msg ?? ''} ${String(obj)}`
			}
			process.stderr.write(line + '\n')
		}
	}
	return logger
}

function emit(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n')
}

function fail(message) {
	process.stderr.write(`baileys_client: ${message}\n`)
	process.exit(2)
}

// Baileys keeps curve25519 public keys as raw 32 bytes; strip a 0x05 type prefix just in case.
function rawPubHex(key) {
	const buf = Buffer.from(key)
	const raw = buf.length === 33 && buf[0] === 5 ? buf.subarray(1) : buf
	if (raw.length !== 32) {
		fail(`unexpected public key length ${buf.length}`)
	}
	return raw.toString('hex')
}

// In-memory SignalKeyStore: get(type, ids) -> {id: value} for the ids present; set({type: {id: value|null}}).
function makeMemoryKeyStore() {
	const data = new Map()
	return {
		get(type, ids) {
			const bucket = data.get(type)
			const out = {}
			if (bucket) {
				for (const id of ids) {
					const value = bucket.get(id)
					if (value !== undefined && value !== null) {
						out[id] = value
					}
				}
			}
			return out
		},
		set(update) {
			for (const type in update) {
				let bucket = data.get(type)
				if (!bucket) {
					bucket = new Map()
					data.set(type, bucket)
				}
				for (const id in update[type]) {
					const value = update[type][id]
					if (value === null || value === undefined) {
						bucket.delete(id)
					} else {
						bucket.set(id, value)
					}
				}
			}
		},
		clear() {
			data.clear()
		}
	}
}

const url = process.env.WA_SIM_URL
const rootHex = process.env.WA_SIM_ROOT_KEY
if (!url) {
	fail('WA_SIM_URL is not set')
}
if (!rootHex || !/^[0-9a-fA-F]{64}$/.test(rootHex)) {
	fail('WA_SIM_ROOT_KEY must be 64 hex characters')
}
const reconnectOnRestart = process.env.WA_RECONNECT_ON_RESTART === '1'
// Like a typical Baileys app: reconnect after any close except loggedOut (401) and replaced (440).
const reconnectAlways = process.env.WA_RECONNECT === '1'
const logger = makeLogger(process.env.WA_LOG_LEVEL || 'silent')
const echo = process.env.WA_ECHO === '1'
const mediaEdgeHost = process.env.WA_MEDIA_EDGE
if (mediaEdgeHost && !(process.env.WA_MEDIA_EDGE_CERT && process.env.WA_MEDIA_EDGE_KEY)) {
	fail('WA_MEDIA_EDGE needs WA_MEDIA_EDGE_CERT and WA_MEDIA_EDGE_KEY')
}
if (mediaEdgeHost && !process.env.NODE_EXTRA_CA_CERTS) {
	fail("WA_MEDIA_EDGE needs NODE_EXTRA_CA_CERTS (the edge certificate's CA)")
}

process.on('unhandledRejection', err => {
	process.stderr.write(`baileys_client: unhandled rejection: ${err?.stack ?? err}\n`)
})

// The noise handler reads this object at handshake time, so the sim's root must be in place first.
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootHex, 'hex')

// The route to the sim's media server (see media_edge.mjs), started before the socket.
const mediaEdge = mediaEdgeHost
	? await startMediaEdge({
			simMediaHost: mediaEdgeHost,
			certFile: process.env.WA_MEDIA_EDGE_CERT,
			keyFile: process.env.WA_MEDIA_EDGE_KEY,
			report: emit
		}).catch(err => fail(`media edge: ${err?.stack ?? err}`))
	: null

const creds = initAuthCreds()
const keys = makeMemoryKeyStore()

emit({
	event: 'creds',
	registrationId: creds.registrationId,
	noiseKeyPub: rawPubHex(creds.noiseKey.public),
	identityKeyPub: rawPubHex(creds.signedIdentityKey.public),
	signedPreKey: {
		keyId: creds.signedPreKey.keyId,
		pub: rawPubHex(creds.signedPreKey.keyPair.public),
		signature: Buffer.from(creds.signedPreKey.signature).toString('hex')
	},
	advSecretKey: creds.advSecretKey
})

let sock = null
let stopping = false

function exitSoon(code) {
	// stdout to a pipe or file is synchronous on Linux; the callback makes sure the last line is out.
	process.stdout.write('', () => process.exit(code))
}

function connect() {
	sock = makeWASocket({
		waWebSocketUrl: url,
		auth: { creds, keys },
		logger,
		printQRInTerminal: false,
		connectTimeoutMs: 20000,
		defaultQueryTimeoutMs: 10000,
		markOnlineOnConnect: false,
		syncFullHistory: false,
		browser: ['Ubuntu', 'Chrome', '22.04.4'],
		...(mediaEdge ? { fetchAgent: mediaEdge.agent } : {})
	})
	const current = sock

	current.ev.on('creds.update', () => {
		emit({ event: 'creds.update' })
	})

	current.ev.on('messages.upsert', ({ messages, type }) => {
		for (const m of messages) {
			const { kind, text, target } = describe(m.message)
			emit({
				event: 'message',
				upsertType: type,
				id: m.key.id,
				remoteJid: m.key.remoteJid,
				participant: m.key.participant ?? null,
				fromMe: !!m.key.fromMe,
				kind,
				target,
				text
			})
			if (mediaEdge && !m.key.fromMe) {
				reportMedia(m)
			}
			if (echo && !m.key.fromMe && kind === 'text') {
				current
					.sendMessage(m.key.remoteJid, { text: `re: ${text}` })
					.then(sent => emit({ event: 'sent', id: sent?.key?.id ?? null, to: m.key.remoteJid }))
					.catch(err => emit({ event: 'send-error', error: String(err?.message ?? err) }))
			}
		}
	})

	current.ev.on('messages.update', updates => {
		for (const u of updates) {
			emit({ event: 'messages.update', id: u.key?.id ?? null, status: u.update?.status ?? null })
		}
	})

	current.ev.on('connection.update', update => {
		const error = update.lastDisconnect?.error
		emit({
			event: 'connection.update',
			connection: update.connection ?? null,
			qr: update.qr ?? null,
			isNewLogin: update.isNewLogin ?? null,
			statusCode: error?.output?.statusCode ?? null,
			error: error ? String(error.message ?? error) : null
		})
		if (update.connection !== 'close') {
			return
		}
		const statusCode = error?.output?.statusCode
		const restart = reconnectOnRestart && statusCode === 515
		const transient = reconnectAlways && statusCode !== 401 && statusCode !== 440
		if (!stopping && (restart || transient)) {
			emit({ event: 'reconnect' })
			setImmediate(connect)
			return
		}
		emit({ event: 'exit', statusCode: statusCode ?? null })
		exitSoon(0)
	})
}

function textOf(message) {
	return message?.conversation ?? message?.extendedTextMessage?.text ?? null
}

// What a received message is: its kind (text, reaction, edit, revoke, or the content's first
// field name), its text (a reaction's emoji, an edit's new text) and the id it refers to.
function describe(raw) {
	const message = normalizeMessageContent(raw)
	if (!message) {
		return { kind: null, text: null, target: null }
	}
	if (textOf(message) !== null) {
		return { kind: 'text', text: textOf(message), target: null }
	}
	if (message.reactionMessage) {
		const r = message.reactionMessage
		return { kind: 'reaction', text: r.text ?? '', target: r.key?.id ?? null }
	}
	const p = message.protocolMessage
	if (p && p.type === proto.Message.ProtocolMessage.Type.REVOKE) {
		return { kind: 'revoke', text: null, target: p.key?.id ?? null }
	}
	if (p && p.type === proto.Message.ProtocolMessage.Type.MESSAGE_EDIT) {
		return { kind: 'edit', text: textOf(normalizeMessageContent(p.editedMessage)), target: p.key?.id ?? null }
	}
	return { kind: Object.keys(message)[0] ?? null, text: null, target: null }
}

// The received media message kinds `reportMedia` downloads (Baileys' content type names).
const MEDIA_TYPES = new Set(['imageMessage', 'documentMessage', 'audioMessage', 'videoMessage', 'stickerMessage'])

const hex = bytes => (bytes ? Buffer.from(bytes).toString('hex') : null)
const numberOf = value => (value === undefined || value === null ? null : Number(value))

const sha256Hex = data => createHash('sha256').update(data).digest('hex')

// Baileys' download does not check the MAC or the hashes (it only decrypts). So that a wrong MAC
// or fileEncSha256 in a message cannot pass unnoticed, the driver also fetches the encrypted body
// from the URL Baileys downloads from (downloadContentFromMessage: the direct path on the host
// of the message's url) and checks it with Baileys' key derivation (getMediaKeys) and Node's
// crypto (media.md §2): `bodySha256` (to compare with fileEncSha256) and `macOk`.
async function checkBody(media, type) {
	const url = getUrlFromDirectPath(media.directPath, new URL(media.url).host)
	const response = await fetch(url, {
		dispatcher: mediaEdge.dispatcher,
		headers: { Origin: 'https://web.whatsapp.com' }
	})
	if (!response.ok) {
		throw new Error(`GET ${url}: ${response.status}`)
	}
	const body = Buffer.from(await response.arrayBuffer())
	const { iv, macKey } = await getMediaKeys(media.mediaKey, type)
	const mac = createHmac('sha256', macKey).update(iv).update(body.subarray(0, -10)).digest().subarray(0, 10)
	return { bodySha256: sha256Hex(body), macOk: body.length > 10 && mac.equals(body.subarray(-10)) }
}

// Downloads a received media message with Baileys' own downloadMediaMessage (through the media
// edge) and reports what Baileys decoded from the message and the SHA-256 of what it decrypted:
// {"event":"media","id","kind","sha256","length","mimetype","caption","fileName","ptt","seconds",
//  "gifPlayback","isAnimated","width","height","jpegThumbnail","fileLength","fileSha256","fileEncSha256","mediaKeyTimestamp",
//  "directPath","url","bodySha256","macOk"} or the same with "error".
function reportMedia(m) {
	const content = normalizeMessageContent(m.message)
	const type = getContentType(content)
	if (!MEDIA_TYPES.has(type)) {
		return
	}
	const media = content[type]
	const kind = type.replace('Message', '')
	const fields = {
		event: 'media',
		id: m.key.id,
		kind,
		mimetype: media.mimetype ?? null,
		caption: media.caption ?? null,
		fileName: media.fileName ?? null,
		ptt: media.ptt ?? null,
		seconds: numberOf(media.seconds),
		gifPlayback: media.gifPlayback ?? null,
		isAnimated: media.isAnimated ?? null,
		width: numberOf(media.width),
		height: numberOf(media.height),
		jpegThumbnail: hex(media.jpegThumbnail),
		fileLength: numberOf(media.fileLength),
		fileSha256: hex(media.fileSha256),
		fileEncSha256: hex(media.fileEncSha256),
		mediaKeyTimestamp: numberOf(media.mediaKeyTimestamp),
		directPath: media.directPath ?? null,
		url: media.url ?? null
	}
	Promise.all([
		downloadMediaMessage(m, 'buffer', { options: { dispatcher: mediaEdge.dispatcher } }),
		checkBody(media, kind)
	])
		.then(([data, body]) => emit({ ...fields, sha256: sha256Hex(data), length: data.length, ...body }))
		.catch(err => emit({ ...fields, error: String(err?.stack ?? err) }))
}

// The Baileys content of a send-media command. A jpegThumbnail given is used as is (Baileys would
// otherwise try sharp/jimp for images and ffmpeg for videos); `seconds` spares it reading the
// audio's duration.
function mediaContentOf(cmd) {
	const data = Buffer.from(String(cmd.data ?? ''), 'base64')
	const optional = {
		...(cmd.caption !== undefined ? { caption: String(cmd.caption) } : {}),
		...(cmd.jpegThumbnail !== undefined ? { jpegThumbnail: String(cmd.jpegThumbnail) } : {}),
		...(cmd.seconds !== undefined ? { seconds: Number(cmd.seconds) } : {})
	}
	const mimetype = String(cmd.mimetype)
	switch (cmd.kind) {
		case 'image':
			return { image: data, mimetype, ...optional }
		case 'video':
			return { video: data, mimetype, ...optional }
		case 'audio':
			return { audio: data, mimetype, ptt: !!cmd.ptt, ...optional }
		case 'document':
			return { document: data, mimetype, fileName: String(cmd.fileName ?? 'file'), ...optional }
		case 'sticker':
			return { sticker: data, mimetype }
		default:
			return null
	}
}

// The Baileys message content of a command.
function contentOf(cmd) {
	const key = id => ({ remoteJid: cmd.to, fromMe: true, id })
	switch (cmd.cmd) {
		case 'send-media':
			return mediaContentOf(cmd)
		case 'send':
			return { text: String(cmd.text) }
		case 'react':
			return { react: { text: String(cmd.emoji), key: { ...key(cmd.target), fromMe: !!cmd.fromMe } } }
		case 'edit':
			return { text: String(cmd.text), edit: key(cmd.target) }
		case 'revoke':
			return { delete: key(cmd.target) }
		default:
			return null
	}
}

function command(line) {
	let cmd
	try {
		cmd = JSON.parse(line)
	} catch {
		emit({ event: 'send-error', ref: null, error: `not JSON: ${line}` })
		return
	}
	const content = contentOf(cmd)
	if (!content || typeof cmd.to !== 'string' || !sock) {
		emit({ event: 'send-error', ref: cmd.ref ?? null, error: `bad command: ${line}` })
		return
	}
	sock
		.sendMessage(cmd.to, content)
		.then(sent => emit({ event: 'sent', id: sent?.key?.id ?? null, to: cmd.to, ref: cmd.ref ?? null }))
		.catch(err => emit({ event: 'send-error', ref: cmd.ref ?? null, error: String(err?.message ?? err) }))
}

function shutdown(signal) {
	if (stopping) {
		return
	}
	stopping = true
	process.stderr.write(`baileys_client: ${signal}, closing socket\n`)
	// end() emits connection.update {connection: 'close'}, whose handler prints the final line and exits.
	Promise.resolve(sock?.end(undefined)).catch(() => {})
	setTimeout(() => {
		emit({ event: 'exit', statusCode: null })
		exitSoon(0)
	}, 3000).unref()
}

process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

createInterface({ input: process.stdin }).on('line', line => {
	if (line.trim() !== '') {
		command(line)
	}
})

connect()
