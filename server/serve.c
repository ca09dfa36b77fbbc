#define _GNU_SOURCE /* signalfd, pipe2, getrandom */
/*
 * serve.c - `mille serve`: the HTTP/JSON service of srv.c over libmicrohttpd.
 *
 * Two listeners: the public one (--host, --port) and the admin one (--admin-host, loopback
 * by default, --admin-port) for POST /admin/reload, which needs the admin token
 * (--admin-token-file). Both run in libmicrohttpd's thread pool (--threads).
 *
 * Signals. SIGHUP, SIGTERM and SIGINT are blocked in every thread and read in one place, the
 * main loop, from a signalfd: main blocks them before any thread starts (kern_init also ends
 * the threads OpenBLAS started before main, see kern.c), so every thread created after
 * inherits the mask. A signal that arrives while main is reloading stays pending and is read
 * when the reload is over; two SIGHUPs in a row are one pending signal, so one reload.
 * SIGHUP reloads the model; SIGTERM or SIGINT stop accepting connections, let the requests in
 * flight finish (up to --drain seconds; a second SIGTERM/SIGINT cuts that short), then exit 0.
 * In case some thread we did not create has them unblocked anyway, a handler is installed
 * too: it writes the signal number to a pipe that the main loop reads beside the signalfd,
 * so that such a delivery is routed to the same place instead of killing the process. At
 * start the main loop checks /proc/self/task and says so if that fallback is needed.
 *
 * Hostile clients (audit 2026-12 #5, #6):
 * - at most --max-per-ip connections from one address (libmicrohttpd refuses the others);
 * - a request must arrive in full within --deadline seconds of the connection's start or of
 *   the end of its previous request, however steadily it trickles (--timeout only bounds
 *   idle time): the main loop shuts down the sockets of those past their deadline;
 * - bodies are gathered per connection up to --max-body bytes (a larger body gets 413 after
 *   being read and dropped), and all connections together hold at most --max-buffered bytes
 *   of bodies: a body that does not fit is read and dropped and gets 503 "busy";
 * - each client address may send --max-ip-rate body bytes a second (ratelimit.c; bursts of
 *   two maximal bodies): a request over its address's budget is parked, its connection
 *   suspended and its body left unread, until the budget covers it (so a client sending
 *   large bodies back to back is slowed to that rate by TCP, instead of taking the workers
 *   from everyone else); one that would wait longer than half of --deadline gets 429 at
 *   once, with Retry-After.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "cli.h"
#include "core.h"
#include "kern.h"
#include "ratelimit.h"
#include "srv.h"

/* Bytes of an over-limit body read and dropped before the 413 reply (see on_request), unless
 * --max-body is larger. */
#define DISCARD_MAX (64ull << 20)
/* The default of --max-buffered: 64 bodies of the default 1 MiB, and never below --max-body
 * (+ 1: a body is buffered with a NUL after it). */
#define BUFFERED_DEFAULT (64ull << 20)
/* How often the main loop looks for requests past their deadline and for parked requests
 * to resume, in milliseconds (a parked request waits up to this much longer than its due). */
#define SWEEP_MS 200
/* The default of --max-ip-rate, body bytes a second per client address: 16,000 requests of
 * 256 bytes, or 4 maximal (1 MiB) bodies. */
#define IP_RATE_DEFAULT (4ull << 20)

/* One TCP connection, listed for the deadline sweep. Fields under serve.mu. */
typedef struct conn_slot {
    struct conn_slot *prev, *next;
    int fd;
    int receiving; /* 1 from the connection's start or the end of its last request until the
                      current request is in full */
    double since;  /* when receiving began (clock_s) */
    int cut;       /* its socket was shut down by the sweep */
} conn_slot;

typedef struct serve {
    srv *s;
    size_t max_body, discard_max, max_buffered;
    atomic_size_t buffered; /* body bytes held by all connections (their buffers' capacity) */
    atomic_int inflight;    /* requests begun and not yet completed */
    double deadline;
    ratelimit *rl;       /* per-address body bytes, NULL: no limit */
    pthread_mutex_t mu;  /* guards the connection list and the parked list */
    conn_slot conns;     /* list head */
    struct conn *parked; /* requests waiting for their address's budget (suspended) */
} serve;

typedef struct listener {
    serve *sv;
    int kind; /* SRV_PUBLIC or SRV_ADMIN */
} listener;

/* One request's body. */
typedef struct conn {
    char *buf;
    size_t len, cap;
    size_t want; /* the declared Content-Length + 1, else 0: the buffer grows no further */
    int too_big; /* over --max-body: read and dropped, then 413 */
    int no_room; /* over --max-buffered: read and dropped, then 503 */
    unsigned long long declared; /* the Content-Length, else 0 */
    /* parked (under serve.mu): suspended until resume_at, when the address's budget covers
     * the body */
    struct conn *next_parked;
    struct MHD_Connection *mc;
    double resume_at;
} conn;

/* ---- replies and requests ---------------------------------------------------------------- */

static enum MHD_Result send_reply(struct MHD_Connection *c, srv_reply *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->len, r->body, r->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        srv_reply_free(r);
        return MHD_NO;
    }
    r->body = NULL; /* owned by the response now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->www_authenticate);
    if (r->retry_after) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static conn_slot *slot_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* Give back what cc holds of the --max-buffered budget. */
static void body_release(serve *sv, conn *cc)
{
    if (cc->cap) atomic_fetch_sub(&sv->buffered, cc->cap);
    free(cc->buf);
    cc->buf = NULL;
    cc->cap = 0;
}

/* Room for need bytes in cc's buffer, taken from the budget: 0, or -1 when the budget (or
 * memory) is short. The buffer grows with the bytes that arrive, by doubling, but never past
 * the declared length or --max-body (+ 1 for a NUL). It is not reserved from the declared
 * length at once: a client that declares 1 MiB and trickles would hold 1 MiB of the budget
 * for nothing (100 such clients took it all in bench/hostile.sh). */
static int body_reserve(serve *sv, conn *cc, size_t need)
{
    if (need <= cc->cap) return 0;
    size_t ncap = cc->cap ? cc->cap : 4096;
    while (ncap < need) ncap *= 2; /* need <= max_body + 1 <= 1 GiB + 1: cannot overflow */
    if (cc->want && ncap > cc->want && need <= cc->want) ncap = cc->want;
    if (ncap > sv->max_body + 1) ncap = sv->max_body + 1;
    size_t more = ncap - cc->cap;
    if (atomic_fetch_add(&sv->buffered, more) + more > sv->max_buffered) {
        atomic_fetch_sub(&sv->buffered, more);
        return -1;
    }
    char *p = realloc(cc->buf, ncap);
    if (!p) {
        atomic_fetch_sub(&sv->buffered, more);
        return -1;
    }
    cc->buf = p;
    cc->cap = ncap;
    return 0;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Charge a body of n bytes to the client's address. 0: go on; 1: parked (the connection is
 * suspended until the sweep resumes it); -1: refused (it would wait over max_wait), *r holds
 * the 429. With max_wait INFINITY the charge is a debt that the address's next requests
 * wait for; nothing is parked. */
static int rate_charge(serve *sv, struct MHD_Connection *c, conn *cc, unsigned long long n,
                       double max_wait, srv_reply *r)
{
    if (!sv->rl || !n) return 0;
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *a = i ? i->client_addr : NULL;
    const void *key = NULL;
    size_t klen = 0;
    if (a && a->sa_family == AF_INET) {
        key = &((const struct sockaddr_in *)a)->sin_addr;
        klen = 4;
    } else if (a && a->sa_family == AF_INET6) {
        key = &((const struct sockaddr_in6 *)a)->sin6_addr;
        klen = 16;
    }
    if (!klen) return 0;
    double now = clock_s();
    double wait = ratelimit_charge(sv->rl, key, klen, (double)n, now, max_wait);
    if (wait == 0 || max_wait == INFINITY) return 0; /* charged after the fact: a debt */
    if (wait < 0) {
        srv_error(sv->s, r, 429, "rate_limited",
                  "this address is over its budget of request-body bytes (--max-ip-rate); "
                  "retry later");
        r->retry_after = "1";
        return -1;
    }
    cc->mc = c;
    cc->resume_at = now + wait;
    pthread_mutex_lock(&sv->mu);
    cc->next_parked = sv->parked;
    sv->parked = cc;
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&sv->mu);
    srv_count_error(sv->s, "throttled");
    return 1;
}

/* Resume the parked requests that are due (all of them when all != 0). */
static void unpark(serve *sv, int all)
{
    double now = clock_s();
    pthread_mutex_lock(&sv->mu);
    for (conn **p = &sv->parked; *p;) {
        conn *cc = *p;
        if (all || cc->resume_at <= now) {
            *p = cc->next_parked;
            cc->next_parked = NULL;
            MHD_resume_connection(cc->mc);
        } else {
            p = &cc->next_parked;
        }
    }
    pthread_mutex_unlock(&sv->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    listener *L = cls;
    serve *sv = L->sv;
    conn *cc = *con_cls;
    srv_reply r;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        atomic_fetch_add(&sv->inflight, 1);
        const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* A body over the limit is read and dropped, then answered: a reply sent before
         * the client finished sending would be lost to a connection reset. Only a body far
         * over the limit is refused at once. */
        unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
        if (n > sv->max_body) cc->too_big = 1;
        if (n > sv->discard_max) {
            srv_error(sv->s, &r, 413, "body_too_large", "the body is %s bytes, the limit is %zu",
                      cl, sv->max_body);
            return send_reply(c, &r);
        }
        if (!cc->too_big && n) cc->want = (size_t)n + 1;
        cc->declared = n;
        /* a body over --max-body is drained, not parsed: it costs what --max-body does */
        if (rate_charge(sv, c, cc, cc->too_big ? sv->max_body + 1 : n, sv->deadline / 2, &r) < 0)
            return send_reply(c, &r);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t add = *upload_size;
        *upload_size = 0;
        if (!cc->too_big && !cc->no_room && cc->len + add > sv->max_body) {
            cc->too_big = 1;
            body_release(sv, cc);
        }
        if (!cc->too_big && !cc->no_room && body_reserve(sv, cc, cc->len + add + 1)) {
            cc->no_room = 1;
            body_release(sv, cc);
        }
        if (cc->too_big || cc->no_room) {
            cc->len += add; /* dropped */
            if (cc->len > sv->discard_max) return MHD_NO;
        } else {
            memcpy(cc->buf + cc->len, upload, add);
            cc->len += add;
        }
        return MHD_YES;
    }
    /* a call without data before the declared body came in full: libmicrohttpd makes one
     * when it resumes a parked request */
    if (cc->len < cc->declared) return MHD_YES;
    /* a body without Content-Length (chunked) is charged once it is in: the address's next
     * requests wait for the debt */
    if (!cc->declared && cc->len) rate_charge(sv, c, cc, cc->len, INFINITY, &r);
    /* the request is in full: the deadline no longer runs */
    conn_slot *sl = slot_of(c);
    if (sl) {
        pthread_mutex_lock(&sv->mu);
        sl->receiving = 0;
        pthread_mutex_unlock(&sv->mu);
    }
    if (cc->too_big) {
        srv_error(sv->s, &r, 413, "body_too_large", "the body is %zu bytes, the limit is %zu",
                  cc->len, sv->max_body);
    } else if (cc->no_room) {
        srv_error(sv->s, &r, 503, "busy",
                  "the server holds its limit of %zu bytes of request bodies (--max-buffered); "
                  "retry later",
                  sv->max_buffered);
    } else {
        srv_request q = {L->kind,
                         method,
                         url,
                         header(c, MHD_HTTP_HEADER_HOST),
                         header(c, "Origin"),
                         header(c, MHD_HTTP_HEADER_CONTENT_TYPE),
                         header(c, MHD_HTTP_HEADER_AUTHORIZATION),
                         cc->buf,
                         cc->len};
        srv_handle_request(sv->s, &q, &r);
    }
    return send_reply(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    listener *L = cls;
    serve *sv = L->sv;
    conn *cc = *con_cls;
    if (!cc) return;
    if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) srv_count_error(sv->s, "timeout");
    body_release(sv, cc);
    free(cc);
    *con_cls = NULL;
    /* on a kept-alive connection the next request's deadline starts now */
    conn_slot *sl = slot_of(c);
    if (sl) {
        pthread_mutex_lock(&sv->mu);
        sl->receiving = 1;
        sl->since = clock_s();
        pthread_mutex_unlock(&sv->mu);
    }
    atomic_fetch_sub(&sv->inflight, 1);
}

/* Connections in and out of the list the deadline sweep walks. libmicrohttpd calls CLOSED
 * before it closes the socket, so under sv->mu a listed fd is still the connection's own. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    serve *sv = ((listener *)cls)->sv;
    conn_slot *sl = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        sl = i ? calloc(1, sizeof *sl) : NULL;
        if (!sl) return; /* not listed: only --timeout bounds it */
        sl->fd = i->connect_fd;
        sl->receiving = 1;
        sl->since = clock_s();
        pthread_mutex_lock(&sv->mu);
        sl->next = sv->conns.next;
        sl->prev = &sv->conns;
        sv->conns.next->prev = sl;
        sv->conns.next = sl;
        pthread_mutex_unlock(&sv->mu);
        *socket_context = sl;
    } else if (sl) {
        pthread_mutex_lock(&sv->mu);
        sl->prev->next = sl->next;
        sl->next->prev = sl->prev;
        pthread_mutex_unlock(&sv->mu);
        free(sl);
        *socket_context = NULL;
    }
}

/* Shut down the sockets of requests past their deadline; libmicrohttpd then sees the
 * connection end and cleans it up in its own thread. Returns how many were cut. */
static int sweep(serve *sv)
{
    unpark(sv, 0);
    int n = 0;
    double now = clock_s();
    pthread_mutex_lock(&sv->mu);
    for (conn_slot *sl = sv->conns.next; sl != &sv->conns; sl = sl->next)
        if (sl->receiving && !sl->cut && now - sl->since > sv->deadline) {
            shutdown(sl->fd, SHUT_RDWR);
            sl->cut = 1;
            n++;
        }
    pthread_mutex_unlock(&sv->mu);
    for (int i = 0; i < n; i++) srv_count_error(sv->s, "deadline");
    return n;
}

static struct MHD_Daemon *start(listener *L, const char *host, unsigned port, unsigned threads,
                                unsigned timeout, unsigned max_conn, unsigned per_ip,
                                const char *what)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "mille serve: %s host '%s' is not an IPv4 address\n", what, host);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME,
        (uint16_t)port, NULL, NULL, on_request, L, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, L, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        L, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mille serve: cannot listen on %s:%u for the %s listener (%s)\n", host,
                port, what, errno ? strerror(errno) : "libmicrohttpd failed");
        return NULL;
    }
    return d;
}

static unsigned bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

/* ---- the admin token --------------------------------------------------------------------- */

#define TOKEN_MAX 256

/* A fresh token: 32 random bytes in hex. */
static int token_new(char *tok)
{
    unsigned char b[32];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t k = getrandom(b + got, sizeof b - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        got += (size_t)k;
    }
    for (size_t i = 0; i < sizeof b; i++) snprintf(tok + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* The admin token into tok: read from file when it exists (a regular file only its owner
 * can read, holding 16 to 255 printable characters), else made and written there (0600, a
 * new file only). Without a file, made and printed once on stderr. 0, or -1 after printing
 * why. */
static int token_load(const char *file, char *tok)
{
    if (!file) {
        if (token_new(tok)) {
            fprintf(stderr, "mille serve: cannot make an admin token: %s\n", strerror(errno));
            return -1;
        }
        fprintf(stderr, "mille serve: admin token %s (--admin-token-file keeps it in a file)\n",
                tok);
        return 0;
    }
    int fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (token_new(tok)) {
            fprintf(stderr, "mille serve: cannot make an admin token: %s\n", strerror(errno));
            return -1;
        }
        fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        size_t n = strlen(tok);
        int ok =
            fd >= 0 && write(fd, tok, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        int e = errno;
        if (fd >= 0) close(fd);
        if (!ok) {
            fprintf(stderr, "mille serve: cannot write the admin token to %s: %s\n", file,
                    strerror(e));
            if (fd >= 0) unlink(file);
            return -1;
        }
        fprintf(stderr, "mille serve: admin token written to %s\n", file);
        return 0;
    }
    if (fd < 0) {
        fprintf(stderr, "mille serve: --admin-token-file %s: %s\n", file, strerror(errno));
        return -1;
    }
    struct stat st;
    char buf[TOKEN_MAX + 2];
    ssize_t n = -1;
    const char *why = NULL;
    if (fstat(fd, &st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_mode & 077)
        why = "readable or writable by others than its owner (chmod 600 it)";
    else if ((n = read(fd, buf, sizeof buf - 1)) < 0)
        why = strerror(errno);
    close(fd);
    size_t len = n > 0 && n < (ssize_t)sizeof buf ? (size_t)n : 0;
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
    if (!why && (len < 16 || len >= TOKEN_MAX))
        why = "the token must be one line of 16 to 255 characters";
    for (size_t i = 0; !why && i < len; i++)
        if (buf[i] <= ' ' || buf[i] > '~') why = "the token must be printable ASCII without spaces";
    if (why) {
        fprintf(stderr, "mille serve: --admin-token-file %s: %s\n", file, why);
        return -1;
    }
    memcpy(tok, buf, len + 1);
    return 0;
}

/* ---- signals ----------------------------------------------------------------------------- */

static int sig_pipe[2] = {-1, -1};

/* Only reached in a thread that has the signals unblocked, which should not exist (see the
 * top of the file): route the signal to the main loop. */
static void on_signal(int sig)
{
    int e = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) { /* full: the main loop has signals to read anyway */
    }
    errno = e;
}

/* Threads of this process that do not block all of set (their count; the first one's id in
 * *tid), from /proc/self/task/ * /status; -1 if that cannot be read. */
static int threads_unblocked(const sigset_t *set, long *tid)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* the thread ended */
        unsigned long long blk = 0;
        int found = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "SigBlk: %llx", &blk) == 1) {
                found = 1;
                break;
            }
        fclose(f);
        int ok = found;
        for (int sig = 1; ok && sig < 64; sig++)
            if (sigismember(set, sig) == 1 && !(blk >> (sig - 1) & 1)) ok = 0;
        if (!ok && bad++ == 0) *tid = strtol(e->d_name, NULL, 10);
    }
    closedir(d);
    return bad;
}

/* Read the signals that arrived (signalfd and pipe); sets *hup, *stop. */
static void signals_read(int sfd, int *hup, int *stop)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP)
            *hup = 1;
        else
            *stop = 1;
    }
    unsigned char b[64];
    ssize_t n;
    while ((n = read(sig_pipe[0], b, sizeof b)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (b[i] == SIGHUP)
                *hup = 1;
            else
                *stop = 1;
        }
}

/* Wait up to ms for a signal; returns what arrived. */
static void signals_wait(int sfd, int ms, int *hup, int *stop)
{
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {sig_pipe[0], POLLIN, 0}};
    if (poll(p, 2, ms) > 0) signals_read(sfd, hup, stop);
}

/* ---- the command ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    srv_config c = srv_default_config();
    fprintf(f,
            "usage: mille serve --model MODEL [options]\n\n"
            "Serve a model over HTTP/JSON (docs/http.md): POST /v1/parse, POST /v1/parse/batch,\n"
            "GET /healthz, GET /v1/model, GET /metrics, and a playground page at /;\n"
            "POST /v1/dialogue with --dialogue-db.\n\n"
            "options:\n"
            "  --model PATH        model file (default: the shipped model, models/mille.model,\n"
            "                      or $MILLE_MODEL)\n"
            "  --host ADDR         IPv4 address to listen on (default 127.0.0.1)\n"
            "  --port N            port (default 8080; 0 picks a free one, printed at start)\n"
            "  --threads N         worker threads (default 2)\n"
            "  --admin-host ADDR   address of the admin listener (default 127.0.0.1)\n"
            "  --admin-port N      port of the admin listener, POST /admin/reload (default\n"
            "                      the public port + 1; 0 picks a free one; -1 turns it off)\n"
            "  --admin-token-file PATH  the token POST /admin/reload needs (Authorization:\n"
            "                      Bearer TOKEN): read from PATH (mode 0600), or made and\n"
            "                      written there if PATH does not exist (default: made at\n"
            "                      start and printed on stderr)\n"
            "  --max-text N        bytes of one utterance (default %zu)\n"
            "  --max-body N        bytes of a request body (default %zu)\n"
            "  --max-batch N       utterances in one batch request (default %zu)\n"
            "  --max-words N       words of one utterance (default %zu)\n"
            "  --max-batch-words N words of one request, all utterances (default %zu)\n"
            "  --max-buffered N    bytes of request bodies held by all connections together\n"
            "                      (default 64 MiB, at least --max-body); past it, 503\n"
            "  --any-locale        accept locales the model was not trained on\n"
            "  --timeout S         disconnect clients idle for S seconds (default 10)\n"
            "  --deadline S        disconnect a client whose request has not arrived in full\n"
            "                      S seconds after its connection (or its previous request)\n"
            "                      began (default 30)\n"
            "  --max-connections N open connections at most (default 1024)\n"
            "  --max-per-ip N      open connections from one IP address at most (default 64)\n"
            "  --max-ip-rate N     request-body bytes a second from one IP address; requests\n"
            "                      over it wait, unread, for their turn (default 4 MiB; 0: no\n"
            "                      limit)\n"
            "  --batch-wait-us N   micro-batching: single parses that arrive while\n"
            "                      --batch-slots batch calls run are parsed together in one\n"
            "                      call; the first waits at most N microseconds for a call\n"
            "                      to end (default 0: off)\n"
            "  --batch-slots N     batch calls at once with micro-batching (default 0: one\n"
            "                      per CPU)\n"
            "  --drain S           on SIGTERM, wait up to S seconds for requests in flight\n"
            "                      (default 10)\n"
            "  --rewrites PATH     rewrite table of `mille learn`, applied before parsing and\n"
            "                      reloaded with the model (default: none; docs/learn.md)\n"
            "  --log DIR           log requests that carry a \"session\" to DIR/turns.jsonl\n"
            "                      (default: no log; docs/learn.md for what is recorded)\n"
            "  --log-max-bytes N   rotate the log at N bytes (default 64 MiB)\n"
            "  --dialogue-db PATH  turn on POST /v1/dialogue: dialogue sessions and the\n"
            "                      built-in skills' state in this SQLite file (created if\n"
            "                      missing; docs/dialogue.md)\n"
            "  --skills PATH       declared skills of the dialogue (JSON: templates, commands,\n"
            "                      webhooks; default none)\n"
            "  --responses PATH    response templates of the dialogue (default: built in)\n"
            "  --max-sessions N    dialogue sessions kept at most; the least recently used\n"
            "                      is evicted (default 1000)\n"
            "  --session-ttl S     a dialogue session unused for S seconds is forgotten\n"
            "                      (default 3600)\n"
            "  --dialogue-act X    the dialogue acts at NLU confidence >= X (default 0.6)\n"
            "  --dialogue-confirm X  ... asks to confirm at >= X, falls back below (0.3)\n\n"
            "signals: SIGHUP reloads the model file (requests in flight finish on the old\n"
            "one); SIGTERM and SIGINT stop gracefully. A signal that comes during a reload is\n"
            "handled after it.\n",
            c.max_text, c.max_body, c.max_batch, c.max_words, c.max_batch_words);
}

int cmd_serve(int argc, char **argv)
{
    const char *model = NULL, *host = "127.0.0.1", *admin_host = "127.0.0.1";
    const char *token_file = NULL, *log_dir = NULL;
    mille_dialogue_params dp = mille_dialogue_default_params();
    const char *dialogue_db = NULL;
    long max_sessions = (long)dp.max_sessions, session_ttl = (long)dp.session_ttl_s;
    double act = dp.act, confirm = dp.confirm;
    long log_max = 0;
    long port = 8080, threads = 2, admin_port = -2, timeout = 10, max_conn = 1024, drain = 10;
    long ip_rate = (long)IP_RATE_DEFAULT;
    long per_ip = 64, deadline = 30, max_buffered = -1, batch_wait = 0, batch_slots = 0;
    long max_text, max_body, max_batch, max_words, max_batch_words;
    srv_config cfg = srv_default_config();
    max_text = (long)cfg.max_text;
    max_body = (long)cfg.max_body;
    max_batch = (long)cfg.max_batch;
    max_words = (long)cfg.max_words;
    max_batch_words = (long)cfg.max_batch_words;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        const char *v;
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_OK;
        } else if ((v = cli_opt_value(argc, argv, &i, "--model", &bad))) {
            model = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--host", &bad))) {
            host = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--admin-host", &bad))) {
            admin_host = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--admin-token-file", &bad))) {
            token_file = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--port", &bad))) {
            if (cli_long("serve", "--port", v, 0, 65535, &port)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--admin-port", &bad))) {
            if (cli_long("serve", "--admin-port", v, -1, 65535, &admin_port)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--threads", &bad))) {
            if (cli_long("serve", "--threads", v, 1, 256, &threads)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-text", &bad))) {
            if (cli_long("serve", "--max-text", v, 1, MILLE_MAX_TEXT_LIMIT, &max_text))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-body", &bad))) {
            if (cli_long("serve", "--max-body", v, 16, 1L << 30, &max_body)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-buffered", &bad))) {
            if (cli_long("serve", "--max-buffered", v, 16, 1L << 40, &max_buffered))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-batch", &bad))) {
            if (cli_long("serve", "--max-batch", v, 1, 1L << 20, &max_batch)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-words", &bad))) {
            if (cli_long("serve", "--max-words", v, 1, MILLE_MAX_WORDS_LIMIT, &max_words))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-batch-words", &bad))) {
            if (cli_long("serve", "--max-batch-words", v, 1, MILLE_MAX_WORDS_LIMIT,
                         &max_batch_words))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--timeout", &bad))) {
            if (cli_long("serve", "--timeout", v, 1, 3600, &timeout)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--deadline", &bad))) {
            if (cli_long("serve", "--deadline", v, 1, 3600, &deadline)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-connections", &bad))) {
            if (cli_long("serve", "--max-connections", v, 1, 1L << 20, &max_conn)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-per-ip", &bad))) {
            if (cli_long("serve", "--max-per-ip", v, 1, 1L << 20, &per_ip)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-ip-rate", &bad))) {
            if (cli_long("serve", "--max-ip-rate", v, 0, 1L << 40, &ip_rate)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--batch-wait-us", &bad))) {
            if (cli_long("serve", "--batch-wait-us", v, 0, 100000, &batch_wait)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--batch-slots", &bad))) {
            if (cli_long("serve", "--batch-slots", v, 0, 1024, &batch_slots)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--drain", &bad))) {
            if (cli_long("serve", "--drain", v, 0, 3600, &drain)) return CLI_USAGE;
        } else if (strcmp(argv[i], "--any-locale") == 0) {
            cfg.strict_locale = 0;
        } else if ((v = cli_opt_value(argc, argv, &i, "--rewrites", &bad))) {
            cfg.rewrites = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--log", &bad))) {
            log_dir = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--log-max-bytes", &bad))) {
            if (cli_long("serve", "--log-max-bytes", v, 4096, 1L << 40, &log_max)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--dialogue-db", &bad))) {
            dialogue_db = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--skills", &bad))) {
            dp.skills = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--responses", &bad))) {
            dp.responses = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--max-sessions", &bad))) {
            if (cli_long("serve", "--max-sessions", v, 1, 1L << 24, &max_sessions))
                return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--dialogue-act", &bad))) {
            if (cli_double("serve", "--dialogue-act", v, 0, 1, &act)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--dialogue-confirm", &bad))) {
            if (cli_double("serve", "--dialogue-confirm", v, 0, 1, &confirm)) return CLI_USAGE;
        } else if ((v = cli_opt_value(argc, argv, &i, "--session-ttl", &bad))) {
            if (cli_long("serve", "--session-ttl", v, 1, 1L << 30, &session_ttl)) return CLI_USAGE;
        } else if (!bad) {
            fprintf(stderr, "mille serve: unknown argument '%s' (see mille serve --help)\n",
                    argv[i]);
            return CLI_USAGE;
        }
        if (bad) return CLI_USAGE;
    }
    char where[512];
    if (!model && !(model = cli_default_model(where, sizeof where))) {
        fprintf(stderr, "mille serve: no --model given and no shipped model found (%s)\n", where);
        return CLI_USAGE;
    }
    if (max_buffered < 0)
        max_buffered = max_body >= (long)BUFFERED_DEFAULT ? max_body + 1 : (long)BUFFERED_DEFAULT;
    if (max_buffered < max_body + 1) {
        fprintf(stderr,
                "mille serve: --max-buffered %ld is below --max-body %ld: no body of the "
                "largest size could be held\n",
                max_buffered, max_body);
        return CLI_USAGE;
    }
    cfg.max_text = (size_t)max_text;
    cfg.max_body = (size_t)max_body;
    cfg.max_batch = (size_t)max_batch;
    cfg.max_words = (size_t)max_words;
    cfg.max_batch_words = (size_t)max_batch_words;
    cfg.admin_host = admin_host;
    cfg.batch_wait_us = (unsigned)batch_wait;
    cfg.batch_slots = (unsigned)batch_slots;

    /* Signals: blocked here, before this process starts any thread of its own, and read from
     * a signalfd by the loop below; kern_init then ends the threads OpenBLAS started before
     * main with an empty mask. See the top of the file. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "mille serve: pipe: %s\n", strerror(errno));
        return CLI_ERR;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        fprintf(stderr, "mille serve: signalfd: %s\n", strerror(errno));
        return CLI_ERR;
    }
    kern_init();

    char token[TOKEN_MAX + 1];
    if (admin_port != -1) {
        if (token_load(token_file, token)) {
            close(sfd);
            return CLI_ERR;
        }
        cfg.admin_token = token;
    }

    serve sv;
    memset(&sv, 0, sizeof sv);
    sv.max_body = cfg.max_body;
    sv.discard_max = cfg.max_body > DISCARD_MAX ? cfg.max_body : DISCARD_MAX;
    sv.max_buffered = (size_t)max_buffered;
    sv.deadline = (double)deadline;
    /* bursts of two maximal bodies, so that one does not wait behind the previous one */
    double burst =
        2.0 * (double)max_body > (double)ip_rate ? 2.0 * (double)max_body : (double)ip_rate;
    if (ip_rate > 0 && !(sv.rl = ratelimit_new((double)ip_rate, burst))) {
        fprintf(stderr, "mille serve: out of memory\n");
        close(sfd);
        return CLI_ERR;
    }
    atomic_init(&sv.buffered, 0);
    atomic_init(&sv.inflight, 0);
    pthread_mutex_init(&sv.mu, NULL);
    sv.conns.next = sv.conns.prev = &sv.conns;
    mille_error err = {0, ""};
    if ((dp.skills || dp.responses) && !dialogue_db) {
        fprintf(stderr, "mille serve: --skills and --responses need --dialogue-db\n");
        close(sfd);
        return CLI_USAGE;
    }
    if (confirm > act) {
        fprintf(stderr, "mille serve: --dialogue-confirm %g is above --dialogue-act %g\n", confirm,
                act);
        close(sfd);
        return CLI_USAGE;
    }
    dp.db = dialogue_db;
    dp.act = (float)act;
    dp.confirm = (float)confirm;
    dp.max_sessions = (size_t)max_sessions;
    dp.session_ttl_s = (double)session_ttl;
    if ((log_dir && mille_log_open(log_dir, (size_t)log_max, &cfg.log, &err) < 0) ||
        (dialogue_db && mille_dialogue_open(&dp, &cfg.dialogue, &err) < 0) ||
        srv_new(&sv.s, model, &cfg, &err) < 0) {
        fprintf(stderr, "mille serve: %s\n", err.msg);
        mille_log_close(cfg.log);
        mille_dialogue_free(cfg.dialogue);
        close(sfd);
        return CLI_ERR;
    }
    listener pub = {&sv, SRV_PUBLIC}, adm = {&sv, SRV_ADMIN};
    struct MHD_Daemon *d = start(&pub, host, (unsigned)port, (unsigned)threads, (unsigned)timeout,
                                 (unsigned)max_conn, (unsigned)per_ip, "public");
    struct MHD_Daemon *da = NULL;
    if (d) port = bound_port(d);
    if (d && admin_port != -1) {
        if (admin_port == -2) admin_port = port < 65535 ? port + 1 : 0;
        da = start(&adm, admin_host, (unsigned)admin_port, 1, (unsigned)timeout, 64, 64, "admin");
        if (!da) {
            MHD_stop_daemon(d);
            d = NULL;
        } else {
            admin_port = bound_port(da);
        }
    }
    if (!d) {
        srv_free(sv.s);
        mille_log_close(cfg.log);
        mille_dialogue_free(cfg.dialogue);
        close(sfd);
        return CLI_ERR;
    }
    long tid = 0;
    int unblocked = threads_unblocked(&set, &tid);
    if (unblocked)
        fprintf(stderr,
                "mille serve: warning: %d thread(s) (first: %ld) do not block SIGHUP/SIGTERM/"
                "SIGINT; a handler routes those signals to the main loop\n",
                unblocked, tid);
    fprintf(stderr, "mille serve: model %s, %ld threads, listening on http://%s:%ld", model,
            threads, host, port);
    if (da) fprintf(stderr, " (admin http://%s:%ld)", admin_host, admin_port);
    fprintf(stderr, "\n");

    for (;;) {
        int hup = 0, stop = 0;
        signals_wait(sfd, SWEEP_MS, &hup, &stop);
        sweep(&sv);
        if (stop) break;
        if (!hup) continue;
        /* signals that come now stay pending and are read on the next turn */
        if (srv_reload(sv.s, NULL, &err) < 0)
            fprintf(stderr, "mille serve: reload failed, the current model stays: %s\n", err.msg);
        else
            fprintf(stderr, "mille serve: model reloaded\n");
    }
    fprintf(stderr, "mille serve: stopping: no new connections, finishing requests in flight\n");
    MHD_quiesce_daemon(d);
    if (da) MHD_quiesce_daemon(da);
    double t0 = clock_s();
    int cut_short = 0;
    while (atomic_load(&sv.inflight) > 0 && clock_s() - t0 < (double)drain) {
        int hup = 0, stop = 0;
        signals_wait(sfd, 10, &hup, &stop);
        sweep(&sv);
        if (stop) {
            cut_short = 1;
            break;
        }
    }
    int left = atomic_load(&sv.inflight);
    unpark(&sv, 1); /* libmicrohttpd closes no suspended connection */
    MHD_stop_daemon(d);
    if (da) MHD_stop_daemon(da);
    srv_free(sv.s);
    mille_log_close(cfg.log);
    mille_dialogue_free(cfg.dialogue);
    ratelimit_free(sv.rl);
    close(sfd);
    pthread_mutex_destroy(&sv.mu);
    if (left)
        fprintf(stderr, "mille serve: %d requests cut off %s\n", left,
                cut_short ? "by a second signal" : "at the end of --drain");
    fprintf(stderr, "mille serve: stopped\n");
    return CLI_OK;
}
