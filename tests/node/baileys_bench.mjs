// Send throughput of an unmodified Baileys client through wa-sim, for the comparison in
// crates/wa-client/examples/send_load.rs (`--peer baileys`).
//
// Usage: WA_SIM_URL=ws://127.0.0.1:PORT/ws/chat WA_SIM_ROOT_KEY=<64 hex> WA_BENCH_TO=<phone>
//        [WA_BENCH_SECONDS=10] [WA_BENCH_INFLIGHT=64] node baileys_bench.mjs
//
// stdout (JSON lines): {"event":"qr","qr"} for the phone to scan; after linking (and the 515
// restart) one warm-up text to WA_BENCH_TO, then {"event":"warm"}: the harness has the contact's
// phone and our own phone text (a Signal initiator sends pkmsg until it has received on the
// session); once two such texts arrived, one more warm-up text, then WA_BENCH_INFLIGHT workers each send a text
// and wait for the server's <ack class="message"> for its id, for WA_BENCH_SECONDS; then
// {"event":"bench","acked","failed","seconds","p50_ms","p99_ms","cpu_us"} (acks received
// inside the window; cpu_us: this process's user+system CPU during the window) and exit.

import makeWASocket, { initAuthCreds, WA_CERT_DETAILS } from '@whiskeysockets/baileys'
import { randomBytes } from 'node:crypto'

function emit(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n')
}

function fail(message) {
	process.stderr.write(`baileys_bench: ${message}\n`)
	process.exit(2)
}

// In-memory SignalKeyStore (the interface Baileys' auth state expects).
function memoryKeys() {
	const data = new Map()
	return {
		get(type, ids) {
			const bucket = data.get(type)
			const out = {}
			for (const id of ids) {
				const v = bucket?.get(id)
				if (v !== undefined && v !== null) out[id] = v
			}
			return out
		},
		set(update) {
			for (const type in update) {
				if (!data.has(type)) data.set(type, new Map())
				const bucket = data.get(type)
				for (const id in update[type]) {
					const v = update[type][id]
					if (v === null || v === undefined) bucket.delete(id)
					else bucket.set(id, v)
				}
			}
		},
		clear() {
			data.clear()
		}
	}
}

const silent = { level: 'silent', trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} }
silent.child = () => silent

const url = process.env.WA_SIM_URL
const rootHex = process.env.WA_SIM_ROOT_KEY ?? ''
const to = process.env.WA_BENCH_TO
const seconds = Number(process.env.WA_BENCH_SECONDS ?? '10')
const inflight = Number(process.env.WA_BENCH_INFLIGHT ?? '64')
if (!url || !/^[0-9a-fA-F]{64}$/.test(rootHex) || !to) {
	fail('WA_SIM_URL, WA_SIM_ROOT_KEY (64 hex) and WA_BENCH_TO are required')
}
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootHex, 'hex')
const jid = `${to}@s.whatsapp.net`
const creds = initAuthCreds()
const keys = memoryKeys()
// id -> {resolve, t0}: sends waiting for their server ack.
const pending = new Map()
let started = false
// Ids we sent, and a wait for texts from others during the warm-up.
const ours = new Set()
let othersSeen = 0
let warming = true
let onOther = () => {}

function newId() {
	return '3EB0' + randomBytes(8).toString('hex').toUpperCase()
}

function onAck(node) {
	const waiting = pending.get(node.attrs.id)
	if (waiting) {
		pending.delete(node.attrs.id)
		waiting.resolve({ ok: !node.attrs.error, at: performance.now(), t0: waiting.t0 })
	}
}

async function sendOne(sock, text) {
	const id = newId()
	const t0 = performance.now()
	const acked = new Promise(resolve => pending.set(id, { resolve, t0 }))
	if (warming) ours.add(id)
	await sock.sendMessage(jid, { text }, { messageId: id })
	return acked
}

async function bench(sock) {
	const first = await sendOne(sock, 'warm-up')
	if (!first.ok) fail('the warm-up send was refused')
	const others = new Promise(resolve => {
		onOther = () => othersSeen >= 2 && resolve()
	})
	emit({ event: 'warm' })
	const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no warm-up texts')), 30000))
	await Promise.race([others, timeout])
	const second = await sendOne(sock, 'warm-up 2')
	if (!second.ok) fail('the second warm-up send was refused')
	warming = false
	const cpu0 = process.cpuUsage()
	const start = performance.now()
	const end = start + seconds * 1000
	const latencies = []
	let failed = 0
	let n = 0
	const worker = async () => {
		while (performance.now() < end) {
			n += 1
			const r = await sendOne(sock, `load ${n}`)
			if (!r.ok) failed += 1
			else if (r.at <= end) latencies.push(r.at - r.t0)
		}
	}
	await Promise.all(Array.from({ length: inflight }, worker))
	const cpu = process.cpuUsage(cpu0)
	latencies.sort((a, b) => a - b)
	const q = p => (latencies.length ? latencies[Math.round((latencies.length - 1) * p)] : 0)
	emit({
		event: 'bench',
		acked: latencies.length,
		failed,
		seconds: (performance.now() - start) / 1000,
		window: seconds,
		p50_ms: q(0.5),
		p99_ms: q(0.99),
		cpu_us: cpu.user + cpu.system
	})
	process.stdout.write('', () => process.exit(0))
}

function connect() {
	const sock = makeWASocket({
		waWebSocketUrl: url,
		auth: { creds, keys },
		logger: silent,
		printQRInTerminal: false,
		connectTimeoutMs: 20000,
		defaultQueryTimeoutMs: 20000,
		markOnlineOnConnect: false,
		syncFullHistory: false,
		browser: ['Ubuntu', 'Chrome', '22.04.4']
	})
	sock.ws.on('CB:ack,class:message', onAck)
	sock.ev.on('messages.upsert', ({ messages }) => {
		for (const m of messages) {
			if (!ours.has(m.key.id)) {
				othersSeen += 1
				onOther()
			}
		}
	})
	sock.ev.on('connection.update', update => {
		if (update.qr) emit({ event: 'qr', qr: update.qr })
		if (update.connection === 'open' && !started) {
			started = true
			emit({ event: 'open' })
			bench(sock).catch(err => fail(String(err?.stack ?? err)))
		}
		if (update.connection === 'close') {
			const code = update.lastDisconnect?.error?.output?.statusCode
			if (code === 515 && !started) setImmediate(connect)
			else fail(`connection closed (${code})`)
		}
	})
}

process.on('unhandledRejection', err => {
	process.stderr.write(`baileys_bench: unhandled rejection: ${err?.stack ?? err}\n`)
})
connect()
