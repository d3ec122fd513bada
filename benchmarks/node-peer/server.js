// server.js: the peer a JavaScript user would write for downcase's job, for scripts/bench only.
// Node's own `http` module answers GET /downcase/?param=TEXT with "lower case of TEXT is text"
// and publishes the answer on a ZeroMQ PUB socket (the `zeromq` npm package, v6) in downcase's
// framed layout: topic, 16-byte header (publisher id, big-endian sequence from 1), text.
//
//   node server.js --listen=127.0.0.1:PORT --bind=tcp://127.0.0.1:PORT
//
// Without the zeromq package (or with --no-zmq) it only answers HTTP; it says so on stderr and
// the benchmark labels its figures "Node http only".
"use strict"

const http = require("http")
const crypto = require("crypto")

function flag(name, fallback) {
    const prefix = "--" + name + "="
    const arg = process.argv.find((a) => a.startsWith(prefix))
    return arg === undefined ? fallback : arg.slice(prefix.length)
}

const listen = flag("listen", "127.0.0.1:5000")
const bind = flag("bind", "tcp://127.0.0.1:4444")
const colon = listen.lastIndexOf(":")
const host = listen.slice(0, colon)
const port = Number(listen.slice(colon + 1))

let zmq = null
if (!process.argv.includes("--no-zmq")) {
    try {
        zmq = require("zeromq")
    } catch (err) {
        console.error("node-peer: zeromq package not loadable (" + err.message + "): http only")
    }
}

// v6 sockets allow one send in flight at a time, so answers wait in a queue that one async loop
// drains; a PUB socket never blocks, it drops past its high-water mark as ZeroMQ's PUB does.
const queue = []
let sending = false
let pub = null
const topic = Buffer.from("downcase")
const id = crypto.randomBytes(8)
let seq = 0n
let published = 0

async function drain() {
    sending = true
    while (queue.length > 0) {
        const text = queue.shift()
        const header = Buffer.alloc(16)
        id.copy(header, 0)
        header.writeBigUInt64BE(++seq, 8)
        await pub.send([topic, header, text])
        published++
    }
    sending = false
}

function publish(text) {
    if (pub === null) {
        return
    }
    queue.push(text)
    if (!sending) {
        drain().catch((err) => {
            console.error("node-peer: send: " + err.message)
            process.exit(1)
        })
    }
}

let answered = 0
const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x")
    const param = url.searchParams.get("param")
    if (url.pathname !== "/downcase/" || param === null) {
        res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" })
        res.end("not found\n")
        return
    }
    const body = Buffer.from("lower case of " + param + " is " + param.toLowerCase())
    res.writeHead(200, {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": body.length,
        "X-Content-Type-Options": "nosniff",
    })
    res.end(body)
    answered++
    publish(body)
})

async function main() {
    if (zmq !== null) {
        pub = new zmq.Publisher()
        await pub.bind(bind)
        console.error("node-peer: zmq bind " + bind + " (zeromq " + zmq.version + ")")
    }
    server.listen(port, host, () => console.error("node-peer: http listening on " + listen))
}

function stop() {
    server.close()
    server.closeAllConnections()
    console.error("node-peer: stopped: " + answered + " requests answered, " + published +
                  " messages published")
    if (pub !== null) {
        pub.linger = 0
        pub.close()
    }
    process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)

main().catch((err) => {
    console.error("node-peer: " + err.message)
    process.exit(1)
})
