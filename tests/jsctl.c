/* jsctl: the tests' own JetStream client (libnats, synchronous), independent of downcase's
 * forwarder: it creates the stream a test forwards into and reads the stream back.
 *
 *   jsctl SERVERS add STREAM SUBJECT [REPLICAS [MAX_MSGS]]   create a stream (file storage,
 *                                                            discard new, 2 min duplicate window)
 *   jsctl SERVERS info STREAM     one line: messages=N first=F last=L leader=NAME
 *   jsctl SERVERS dump STREAM     every message as a JSON line: seq, subject, headers, data
 *
 * SERVERS is nats://HOST:PORT[,nats://HOST:PORT...] (tls://... for TLS, trusting what OpenSSL
 * trusts, e.g. SSL_CERT_FILE); NATS_TOKEN in the environment, if set, is the token to connect
 * with. Exit 0, or 1 with one line on stderr. */
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_string(const char *s, int len)
{
    putchar('"');
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static int fail(const char *what, natsStatus s, jsErrCode code)
{
    fprintf(stderr, "jsctl: %s: %s (%s, js error %d)\n", what, natsStatus_GetText(s),
            nats_GetLastError(NULL), (int)code);
    return 1;
}

static int add(jsCtx *js, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "jsctl: add STREAM SUBJECT [REPLICAS [MAX_MSGS]]\n");
        return 1;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[1] = {argv[1]};
    sc.Name = argv[0];
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Discard = js_DiscardNew;
    sc.Duplicates = (int64_t)120 * 1000 * 1000 * 1000;
    sc.Replicas = argc > 2 ? atoi(argv[2]) : 1;
    sc.MaxMsgs = argc > 3 ? atoll(argv[3]) : -1;
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    natsStatus s = js_AddStream(&si, js, &sc, NULL, &code);
    if (s != NATS_OK) {
        return fail("js_AddStream", s, code);
    }
    jsStreamInfo_Destroy(si);
    return 0;
}

static int info(jsCtx *js, const char *stream)
{
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &code);
    if (s != NATS_OK) {
        return fail("js_GetStreamInfo", s, code);
    }
    printf("messages=%" PRIu64 " first=%" PRIu64 " last=%" PRIu64 " leader=%s\n", si->State.Msgs,
           si->State.FirstSeq, si->State.LastSeq,
           si->Cluster && si->Cluster->Leader ? si->Cluster->Leader : "-");
    jsStreamInfo_Destroy(si);
    return 0;
}

/* One message as a JSON line. */
static void print_msg(natsMsg *m, uint64_t seq)
{
    printf("{\"seq\":%" PRIu64 ",\"subject\":", seq);
    json_string(natsMsg_GetSubject(m), (int)strlen(natsMsg_GetSubject(m)));
    printf(",\"headers\":{");
    const char **keys = NULL;
    int nkeys = 0;
    if (natsMsgHeader_Keys(m, &keys, &nkeys) == NATS_OK) {
        for (int i = 0; i < nkeys; i++) {
            const char *v = NULL;
            natsMsgHeader_Get(m, keys[i], &v);
            printf("%s", i ? "," : "");
            json_string(keys[i], (int)strlen(keys[i]));
            putchar(':');
            json_string(v ? v : "", v ? (int)strlen(v) : 0);
        }
        free((void *)keys);
    }
    printf("},\"data\":");
    json_string(natsMsg_GetData(m) ? natsMsg_GetData(m) : "", natsMsg_GetDataLength(m));
    printf("}\n");
}

/* The whole stream through an ordered consumer (pushed in bulk, not one request per message),
 * up to the last message the stream held when asked. */
static int dump(jsCtx *js, const char *stream)
{
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &code);
    if (s != NATS_OK) {
        return fail("js_GetStreamInfo", s, code);
    }
    uint64_t last = si->State.LastSeq, msgs = si->State.Msgs;
    char subject[256];
    snprintf(subject, sizeof subject, "%s",
             si->Config->SubjectsLen > 0 ? si->Config->Subjects[0] : ">");
    jsStreamInfo_Destroy(si);
    if (msgs == 0) {
        return 0;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    natsSubscription *sub = NULL;
    s = js_SubscribeSync(&sub, js, subject, NULL, &so, &code);
    if (s != NATS_OK) {
        return fail("js_SubscribeSync", s, code);
    }
    /* Messages come faster than they are printed: keep them all. */
    natsSubscription_SetPendingLimits(sub, -1, -1);
    int rc = 0;
    for (;;) {
        natsMsg *m = NULL;
        jsMsgMetaData *meta = NULL;
        s = natsSubscription_NextMsg(&m, sub, 10000);
        if (s == NATS_OK) {
            s = natsMsg_GetMetaData(&meta, m);
        }
        if (s != NATS_OK) {
            natsMsg_Destroy(m);
            rc = fail("reading the stream", s, 0);
            break;
        }
        uint64_t seq = meta->Sequence.Stream;
        print_msg(m, seq);
        jsMsgMetaData_Destroy(meta);
        natsMsg_Destroy(m);
        if (seq >= last) {
            break;
        }
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: jsctl SERVERS add|info|dump STREAM ...\n");
        return 2;
    }
    char *list = strdup(argv[1]);
    const char *servers[16];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < 16;
         t = strtok_r(NULL, ",", &save)) {
        servers[n++] = t;
    }
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    int rc = 1;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) {
        s = natsOptions_SetServers(o, servers, n);
    }
    if (s == NATS_OK && strncmp(argv[1], "tls://", 6) == 0) {
        s = natsOptions_SetSecure(o, true); /* trusts what OpenSSL does: SSL_CERT_FILE */
    }
    if (s == NATS_OK && getenv("NATS_TOKEN")) {
        s = natsOptions_SetToken(o, getenv("NATS_TOKEN"));
    }
    if (s == NATS_OK) {
        s = natsConnection_Connect(&nc, o);
    }
    if (s == NATS_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = 10000;
        s = natsConnection_JetStream(&js, nc, &jo);
    }
    if (s != NATS_OK) {
        rc = fail("connect", s, 0);
    } else if (strcmp(argv[2], "add") == 0) {
        rc = add(js, argc - 3, argv + 3);
    } else if (strcmp(argv[2], "info") == 0) {
        rc = info(js, argv[3]);
    } else if (strcmp(argv[2], "dump") == 0) {
        rc = dump(js, argv[3]);
    } else {
        fprintf(stderr, "jsctl: unknown command %s\n", argv[2]);
        rc = 2;
    }
    fflush(stdout);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    free(list);
    nats_Close();
    return rc;
}
