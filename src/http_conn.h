/* http_conn: one HTTP/1.1 connection: reads, parses with llhttp, answers in order, writes.
 *
 * Pipelining and backpressure: every request completed by a read is answered into `out`, and
 * all of a read's answers leave in one write. While more than limits.max_output_bytes of answers
 * are unsent, the parser is paused (on_message_complete returns HPE_PAUSED), reading stops, and
 * the unparsed input is kept; when the writes drain, parsing resumes where it stopped. A client
 * that pipelines without reading therefore holds a bounded amount of memory.
 *
 * Closing: after a response that ends the connection (Connection: close, HTTP/1.0, an error)
 * the write side is shut down and the input is read and discarded for a short while before the
 * socket closes ("lingering close", as nginx does): closing with unread input makes the kernel
 * send RST, which can destroy the response before the client has read it. */
#ifndef DOWNCASE_HTTP_CONN_H
#define DOWNCASE_HTTP_CONN_H

#include "http_server.h"

/* How long a closing connection keeps discarding input before it closes. */
#define HTTP_CONN_LINGER_MS 2000

/* Accepts one connection from the server's listener and starts reading it. 0 or a negative
 * errno (the server counts and reports). */
int http_conn_accept(struct http_server *s);
/* The server is stopping: close now if idle, otherwise after the request in progress. */
void http_conn_drain(struct http_conn *c);
/* Close at once. */
void http_conn_close(struct http_conn *c);
/* The next connection of the server's list (for iterating while closing). */
struct http_conn *http_conn_next(const struct http_conn *c);

#endif
