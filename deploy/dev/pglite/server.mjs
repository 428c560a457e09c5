// Kiln's development vector database: PGlite (Postgres compiled to WASM)
// with the pgvector extension, served over TCP with the Postgres wire
// protocol, so Kiln's Go code talks to it through pgx like to any Postgres.
//
//   node server.mjs [--host 127.0.0.1] [--port 5433] [--data-dir DIR|memory://]
//                   [--idle-transaction-timeout SECONDS (60)] [--debug]
//
// PGlite is one backend session. This server lets several clients share it
// safely, which @electric-sql/pglite-socket's server does not: that server
// interleaves the single messages of different connections, so one client's
// Bind can land on another client's Parse. Here each connection's messages
// are run as whole groups (up to and including a Sync, a simple Query or a
// Flush), and while a connection has a transaction open (or an extended-
// protocol exchange unfinished) only that connection runs; one that holds
// the session idle for --idle-transaction-timeout while others wait is
// closed, and its transaction rolled back. What stays shared
// is session state: prepared-statement names (use pgx's exec or
// cache_describe mode), session-level SET, temporary tables and advisory
// locks. COPY is not supported by PGlite.
import { createServer } from 'node:net'
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4])
// Message types that end a group: Sync, simple Query, Flush, CopyDone, CopyFail.
const GROUP_END = new Set(['S', 'Q', 'H', 'c', 'f'])

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 5433, dataDir: 'memory://', debug: false, idleTxMs: 60000 }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2)
    const value = () => inline ?? argv[++i]
    switch (flag) {
      case '--host': opts.host = value(); break
      case '--port': opts.port = Number(value()); break
      case '--data-dir': opts.dataDir = value(); break
      case '--debug': opts.debug = true; break
      case '--idle-transaction-timeout': opts.idleTxMs = Number(value()) * 1000; break
      default: throw new Error(`unknown argument ${argv[i]}`)
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`--port must be a TCP port, not ${opts.port}`)
  }
  return opts
}

const opts = parseArgs(process.argv.slice(2))
const log = (...args) => console.log(new Date().toISOString(), ...args)
const debug = (...args) => opts.debug && log(...args)

// Scheduler runs groups of protocol messages against the one PGlite
// session, one group at a time, keeping a connection's transaction whole.
class Scheduler {
  constructor(db) {
    this.db = db
    this.queue = []
    this.owner = null // the connection whose transaction or exchange is open
    this.ownedSince = 0
    this.running = false
  }

  submit(conn, bytes, clean) {
    return new Promise((resolve, reject) => {
      this.queue.push({ conn, bytes, clean, resolve, reject })
      this.pump()
    })
  }

  next() {
    const i = this.owner ? this.queue.findIndex((g) => g.conn === this.owner) : 0
    return i < 0 ? null : this.queue.splice(i, 1)[0]
  }

  async pump() {
    if (this.running) return
    this.running = true
    try {
      for (let g = this.next(); g; g = this.next()) await this.run(g)
    } finally {
      this.running = false
    }
  }

  async run(g) {
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(g.bytes, { onRawData: (data) => g.conn.write(data) }),
      )
      g.resolve()
    } catch (err) {
      g.reject(err)
    }
    this.owner = this.db.isInTransaction() || !g.clean ? g.conn : null
    this.ownedSince = Date.now()
    // The connection may have closed while its group ran.
    if (this.owner?.closed) await this.abandon()
  }

  // release forgets a closed connection: its queued groups are dropped and
  // a transaction it left open is rolled back.
  async release(conn) {
    this.queue = this.queue.filter((g) => g.conn !== conn)
    if (this.owner !== conn) return
    await this.abandon()
    this.pump()
  }

  // abandon ends what the owner left open and frees the session: a Sync
  // ends an unfinished extended-protocol exchange (and the skipping of
  // messages after an error in one), a ROLLBACK an open transaction.
  async abandon() {
    debug(`connection #${this.owner?.id} left the session busy; resetting it`)
    this.owner = null
    await this.db.runExclusive(() => this.db.execProtocolRawStream(SYNC, { onRawData: () => {} }))
    // exec takes PGlite's query lock itself (runExclusive around it would deadlock).
    if (this.db.isInTransaction()) await this.db.exec('ROLLBACK')
  }

  // reapIdle closes a connection that holds the session (an open
  // transaction) without sending anything for too long while others wait,
  // so one stuck client cannot stop every other.
  reapIdle(limitMs) {
    const owner = this.owner
    if (!owner || this.running || this.queue.length === 0) return
    if (Date.now() - Math.max(this.ownedSince, owner.lastActive) < limitMs) return
    log(`connection #${owner.id} idled ${limitMs} ms in a transaction while others waited; closing it`)
    owner.close()
  }
}

// Connection splits one client's byte stream into message groups.
class Connection {
  static count = 0
  static open = new Set()

  constructor(socket, scheduler) {
    this.id = ++Connection.count
    this.socket = socket
    this.scheduler = scheduler
    this.buf = Buffer.alloc(0)
    this.started = false
    this.pending = [] // complete messages of the group being collected
    this.chain = Promise.resolve() // keeps this connection's groups in order
    this.closed = false
    this.lastActive = Date.now()
    Connection.open.add(this)
    socket.setNoDelay(true)
    socket.on('data', (data) => this.receive(data))
    socket.on('error', (err) => debug(`connection #${this.id}: ${err.message}`))
    socket.on('close', () => this.close())
  }

  write(data) {
    if (!this.closed && data.length > 0) this.socket.write(data)
  }

  close() {
    if (this.closed) return
    this.closed = true
    Connection.open.delete(this)
    this.socket.destroy()
    this.scheduler.release(this).catch((err) => log(`release connection #${this.id}: ${err.message}`))
  }

  receive(data) {
    this.lastActive = Date.now()
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data
    try {
      while (this.started ? this.takeMessage() : this.takeStartup());
    } catch (err) {
      log(`connection #${this.id}: ${err.message}`)
      this.close()
    }
  }

  // takeStartup handles the untyped messages before the session starts.
  takeStartup() {
    if (this.buf.length < 8) return false
    const len = this.buf.readInt32BE(0)
    if (this.buf.length < len) return false
    const code = this.buf.readInt32BE(4)
    const msg = this.buf.subarray(0, len)
    this.buf = this.buf.subarray(len)
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.write(Buffer.from('N'))
      return true
    }
    if (code === CANCEL_REQUEST) throw new Error('cancel requests are not supported')
    if (code !== PROTOCOL_3) throw new Error(`unsupported protocol version ${code}`)
    this.started = true
    this.send([msg], true)
    return true
  }

  // takeMessage collects one typed message and sends the group it ends.
  takeMessage() {
    if (this.buf.length < 5) return false
    const len = this.buf.readInt32BE(1)
    if (this.buf.length < len + 1) return false
    const msg = this.buf.subarray(0, len + 1)
    this.buf = this.buf.subarray(len + 1)
    const type = String.fromCharCode(msg[0])
    if (type === 'X') {
      this.close()
      return false
    }
    this.pending.push(msg)
    if (GROUP_END.has(type)) {
      this.send(this.pending, type !== 'H')
      this.pending = []
    }
    return true
  }

  send(messages, clean) {
    const bytes = new Uint8Array(Buffer.concat(messages))
    this.chain = this.chain
      .then(() => (this.closed ? undefined : this.scheduler.submit(this, bytes, clean)))
      .catch((err) => {
        log(`connection #${this.id}: ${err.message}`)
        this.close()
      })
  }
}

async function main() {
  const started = Date.now()
  const db = await PGlite.create({ dataDir: opts.dataDir, extensions: { vector }, relaxedDurability: true })
  await db.exec('CREATE EXTENSION IF NOT EXISTS vector')
  const scheduler = new Scheduler(db)
  setInterval(() => scheduler.reapIdle(opts.idleTxMs), 1000).unref()
  const server = createServer((socket) => {
    const conn = new Connection(socket, scheduler)
    debug(`connection #${conn.id} from ${socket.remoteAddress}:${socket.remotePort}`)
  })
  server.on('error', (err) => {
    log(`server: ${err.message}`)
    process.exit(1)
  })
  server.listen(opts.port, opts.host, () => {
    const { port } = server.address()
    log(`pglite: listening on ${opts.host}:${port} (data ${opts.dataDir}, ready in ${Date.now() - started} ms)`)
  })
  const stop = async (signal) => {
    log(`pglite: ${signal}, closing`)
    server.close()
    for (const conn of Connection.open) conn.close()
    const timeout = new Promise((resolve) => setTimeout(resolve, 5000, 'timeout'))
    if ((await Promise.race([db.close().then(() => 'closed'), timeout])) === 'timeout') {
      log('pglite: the database did not close within 5 s; exiting anyway')
      process.exit(1)
    }
    process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((err) => {
  log(`pglite: ${err.stack ?? err}`)
  process.exit(1)
})
