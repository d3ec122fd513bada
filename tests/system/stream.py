"""stream: a steady stream of numbered GET /downcase/?param=PREFIX-NNNNNN requests to one
pub, on one keep-alive connection, until STOPFILE exists or LIMIT requests or SECONDS have gone.

The system suite runs it with the host's Python inside the guest's network namespace
(nsenter -n), so it talks to 127.0.0.1 in the guest. It prints "sent N" (requests answered 200,
numbered 0 to N-1) and exits 0; any other answer, or a lost connection, exits 1 naming it.

    stream.py PORT PREFIX STOPFILE LIMIT SECONDS"""

import http.client
import os
import sys
import time


def main():
    port, prefix, stopfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    limit, seconds = int(sys.argv[4]), float(sys.argv[5])
    deadline = time.monotonic() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = 0
    while sent < limit and time.monotonic() < deadline and not os.path.exists(stopfile):
        text = "%s-%06d" % (prefix, sent)
        conn.request("GET", "/downcase/?param=" + text)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        if r.status != 200 or body != "lower case of %s is %s" % (text, text.lower()):
            print("GET %s answered %d: %r" % (text, r.status, body), flush=True)
            return 1
        sent += 1
        # A steady stream rather than a flood: rotations happen among the requests.
        time.sleep(0.002)
    conn.close()
    print("sent %d" % sent, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
