// The network between Baileys and wa-sim's media server, for the media interop test
// (tests/baileys_media.rs). It changes nothing Baileys sends or checks; it only decides where
// Baileys' HTTPS connections to the media hosts land, as DNS and a TLS-terminating edge would
// for a real client:
//
// * Baileys speaks only `https://` to media hosts (Baileys 7 lib/Utils/messages-media.js:
//   uploads `https://<media_conn hostname><MEDIA_PATH_MAP path>/<token>?auth=…&token=…` through
//   Node's https module with the `fetchAgent` option as agent; downloads
//   `https://<host of the message url, else mmg.whatsapp.net><directPath>` through fetch with
//   the download options' `dispatcher`). wa-sim's media server is plain HTTP on its port.
// * So this module runs a TLS server with a test certificate for `mmg.whatsapp.net`,
//   `*.whatsapp.net` and `127.0.0.1` (tests/node/media_edge/, issued by a test CA that the
//   process trusts through NODE_EXTRA_CA_CERTS: Node's ordinary certificate and host-name
//   checks stay on), and forwards each decrypted connection byte for byte to the sim's port.
// * `agent` (an https.Agent, for Baileys' `fetchAgent`) and `dispatcher` (an agent of the
//   undici that Node's own fetch uses, for `downloadMediaMessage`'s options) open each TLS
//   connection to that server instead of the address the host name would resolve to, keeping
//   the original name for SNI and the certificate check. Only the media host the sim announces
//   (`WA_MEDIA_EDGE`, `ip:port`) and mmg.whatsapp.net:443 are routed; any other destination
//   is refused, so nothing leaves the machine.
//
// Every routed connection is reported as a JSON line `{"event":"media-route","via":
// "upload"|"download","host":…,"port":…}` through the `report` callback.

import { readFileSync } from 'node:fs'
import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'

/** The default download host of Baileys 7 (`DEF_MEDIA_HOST`). */
const DEFAULT_MEDIA_HOST = 'mmg.whatsapp.net'

/** `host:port` → `{host, port}` (port a number). */
function splitHostPort(text) {
	const at = text.lastIndexOf(':')
	if (at <= 0) {
		throw new Error(`WA_MEDIA_EDGE must be host:port, got ${text}`)
	}
	return { host: text.slice(0, at), port: Number(text.slice(at + 1)) }
}

/**
 * The undici Agent class of Node's built-in fetch. Node does not export its bundled undici;
 * the global dispatcher it installs on first use is an instance of that class (registered
 * under undici's documented global symbol), so it is taken from there rather than from a
 * second undici copy whose dispatcher protocol could differ from the built-in fetch's.
 */
async function builtinUndiciAgent() {
	await (await fetch('data:,')).arrayBuffer()
	const global = globalThis[Symbol.for('undici.globalDispatcher.1')]
	if (!global || typeof global.dispatch !== 'function') {
		throw new Error("cannot find the undici dispatcher of Node's fetch")
	}
	return global.constructor
}

/**
 * Starts the edge. `simMediaHost` is the sim's media host (`127.0.0.1:PORT`), `certFile` and
 * `keyFile` the edge's certificate chain and key (PEM). Resolves to `{agent, dispatcher,
 * close}`.
 */
export async function startMediaEdge({ simMediaHost, certFile, keyFile, report }) {
	const sim = splitHostPort(simMediaHost)
	const server = tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, client => {
		const upstream = net.connect(sim.port, sim.host)
		client.pipe(upstream).pipe(client)
		const end = () => {
			client.destroy()
			upstream.destroy()
		}
		client.on('error', end)
		upstream.on('error', end)
	})
	await new Promise((resolve, reject) => {
		server.once('error', reject)
		server.listen(0, '127.0.0.1', resolve)
	})
	const edge = { host: '127.0.0.1', port: server.address().port }

	// Throws for a destination that is not a media host of the sim.
	const route = (via, host, port) => {
		const p = Number(port || 443)
		const announced = host === sim.host && p === sim.port
		const fallback = host === DEFAULT_MEDIA_HOST && p === 443
		if (!announced && !fallback) {
			throw new Error(`media edge: no route to ${host}:${p}`)
		}
		report({ event: 'media-route', via, host, port: p })
	}
	// The name the certificate is checked against: host names by SNI, addresses by IP SAN.
	const servername = host => (net.isIP(host) ? undefined : host)

	class EdgeAgent extends https.Agent {
		createConnection(options, callback) {
			route('upload', options.host, options.port)
			const name = options.servername || servername(options.host)
			// https.Agent's own connector: TLS with the process's trust store and host-name check.
			return super.createConnection(
				{ ...options, host: edge.host, port: edge.port, servername: name, checkServerIdentity: (_, cert) => tls.checkServerIdentity(name ?? options.host, cert) },
				callback
			)
		}
	}

	const Agent = await builtinUndiciAgent()
	const dispatcher = new Agent({
		connect: (opts, callback) => {
			try {
				route('download', opts.hostname, opts.port)
			} catch (error) {
				callback(error, null)
				return
			}
			const name = servername(opts.hostname)
			let done = false
			const finish = (error, socket) => {
				if (!done) {
					done = true
					callback(error, socket)
				}
			}
			const socket = tls.connect({
				host: edge.host,
				port: edge.port,
				servername: name,
				ALPNProtocols: ['http/1.1'],
				checkServerIdentity: (_, cert) => tls.checkServerIdentity(name ?? opts.hostname, cert)
			})
			socket.once('secureConnect', () => finish(null, socket))
			socket.once('error', error => finish(error, null))
		}
	})

	return {
		agent: new EdgeAgent({ keepAlive: false }),
		dispatcher,
		close: () => {
			server.close()
			dispatcher.close().catch(() => {})
		}
	}
}
