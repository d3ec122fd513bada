#!/usr/bin/python3
"""nfq_delay.py: the network suite's netem stand-in (this kernel has no netem). From the
project's own feasibility notes (containers-netns.md, experiments/nfq_delay.py).

Minimal netem stand-in: holds packets queued by an iptables NFQUEUE rule for
DELAY ms, drops a fraction LOSS of them, then accepts the rest.
Pure Python, raw NETLINK_NETFILTER socket, no extra packages.
usage: nfq_delay.py QUEUE_NUM DELAY_MS LOSS_FRACTION [SECONDS_TO_RUN]"""
import heapq, os, random, select, socket, struct, sys, time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_DROP, NF_ACCEPT = 0, 1

queue = int(sys.argv[1]); delay = float(sys.argv[2]) / 1000.0
loss = float(sys.argv[3]); run_for = float(sys.argv[4]) if len(sys.argv) > 4 else 1e9

sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
sock.bind((0, 0))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
seq = 0

def nla(t, payload):
    l = 4 + len(payload)
    return struct.pack("=HH", l, t) + payload + b"\0" * ((4 - l % 4) % 4)

def send(msg_type, attrs, flags=NLM_F_REQUEST):
    global seq
    seq += 1
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + b"".join(attrs)
    hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0)
    sock.send(hdr + body)

def check_ack():
    data = sock.recv(65536)
    _, t, _, _, _ = struct.unpack_from("=IHHII", data)
    if t == NLMSG_ERROR:
        err = struct.unpack_from("=i", data, 16)[0]
        if err != 0:
            raise OSError(-err, os.strerror(-err))

send(NFQNL_MSG_CONFIG, [nla(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET))], NLM_F_REQUEST | NLM_F_ACK)
check_ack()
send(NFQNL_MSG_CONFIG, [nla(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))], NLM_F_REQUEST | NLM_F_ACK)
check_ack()
NFQA_CFG_QUEUE_MAXLEN = 3
send(NFQNL_MSG_CONFIG, [nla(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536))], NLM_F_REQUEST | NLM_F_ACK)
check_ack()
import signal
signal.signal(signal.SIGTERM, lambda *a: globals().__setitem__("end", 0))
print(f"nfq_delay: queue {queue}, delay {delay*1000:.0f} ms, loss {loss:.1%}", flush=True)

pending = []  # (due_time, packet_id)
stats = {"seen": 0, "dropped": 0}
end = time.monotonic() + run_for
while time.monotonic() < end:
    now = time.monotonic()
    while pending and pending[0][0] <= now:
        _, pid = heapq.heappop(pending)
        send(NFQNL_MSG_VERDICT, [nla(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))])
    timeout = max(0.0, pending[0][0] - now) if pending else 0.2
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        continue
    data = sock.recv(1 << 16)
    off = 0
    while off + 16 <= len(data):
        ln, t, _, _, _ = struct.unpack_from("=IHHII", data, off)
        if ln < 16:
            break
        if t == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a = off + 20  # nlmsghdr(16) + nfgenmsg(4)
            while a + 4 <= off + ln:
                alen, atype = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if (atype & 0x3FFF) == NFQA_PACKET_HDR:
                    pid = struct.unpack_from("!I", data, a + 4)[0]
                    stats["seen"] += 1
                    if random.random() < loss:
                        stats["dropped"] += 1
                        send(NFQNL_MSG_VERDICT, [nla(NFQA_VERDICT_HDR, struct.pack("!II", NF_DROP, pid))])
                    else:
                        heapq.heappush(pending, (time.monotonic() + delay, pid))
                    break
                a += (alen + 3) & ~3
        off += (ln + 3) & ~3
for _, pid in pending:
    send(NFQNL_MSG_VERDICT, [nla(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))])
print(f"nfq_delay: done, {stats}", flush=True)
