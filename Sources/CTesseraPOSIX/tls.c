// TLS over the node protocol's plain sockets, through the system's OpenSSL (libssl.so.3) loaded with dlopen at
// first use: the client libraries link no TLS library (they run inside arbitrary CUDA programs, with the Swift
// runtime static and no Foundation), and a program that uses its own OpenSSL is unaffected (nothing is
// exported or interposed). Only OpenSSL's stable public ABI is used; its opaque types stay void pointers here.
#define _GNU_SOURCE
#include "CTesseraPOSIX.h"
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

// Public constants of OpenSSL's ABI.
#define T_SSL_VERIFY_PEER 0x01
#define T_SSL_VERIFY_FAIL_IF_NO_PEER_CERT 0x02
#define T_SSL_ERROR_SSL 1
#define T_SSL_ERROR_WANT_READ 2
#define T_SSL_ERROR_WANT_WRITE 3
#define T_SSL_ERROR_SYSCALL 5
#define T_SSL_ERROR_ZERO_RETURN 6
#define T_SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define T_SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define T_SSL_CTRL_SET_READ_AHEAD 41
#define T_TLS1_2_VERSION 0x0303
#define T_SSL_FILETYPE_PEM 1
#define T_OPENSSL_INIT_LOAD_SSL_STRINGS 0x00200000L
#define T_OPENSSL_INIT_LOAD_CRYPTO_STRINGS 0x00000002L
#define T_BIO_TYPE_SOURCE_SINK 0x0400
#define T_BIO_CTRL_FLUSH 11
#define T_BIO_FLAGS_RWS_AND_RETRY 0x0f
// With read-ahead, one recv(2) fills this much of OpenSSL's buffer: several 16 KiB records of a large copy per
// system call instead of one.
static const size_t read_buffer_bytes = 128 << 10;
// A large write is sent in one send(2) per this much of its records (16 KiB each), not one per record: on loopback a
// 64 MiB copy made 4,096 system calls, each waking the reader for one record.
#define WRITE_BUFFER_BYTES (256 << 10)
// TLS 1.3 suites in order of preference: AES-128-GCM first, the fastest where AES-NI exists (as it does on every
// GPU server), then the rest of OpenSSL's defaults.
static const char *const tls13_suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

static struct {
    int (*init_ssl)(uint64_t, const void *);
    const void *(*client_method)(void);
    const void *(*server_method)(void);
    void *(*ctx_new)(const void *);
    void (*ctx_free)(void *);
    long (*ctx_ctrl)(void *, int, long, void *);
    int (*ctx_use_chain)(void *, const char *);
    int (*ctx_use_key)(void *, const char *, int);
    int (*ctx_check_key)(const void *);
    int (*ctx_load_verify)(void *, const char *, const char *);
    void (*ctx_set_verify)(void *, int, void *);
    void *(*ssl_new)(void *);
    void (*ssl_free)(void *);
    int (*ssl_connect)(void *);
    int (*ssl_accept)(void *);
    int (*ssl_read)(void *, void *, int);
    int (*ssl_write)(void *, const void *, int);
    int (*get_error)(const void *, int);
    int (*ssl_shutdown)(void *);
    long (*ssl_ctrl)(void *, int, long, void *);
    int (*set1_host)(void *, const char *);
    void *(*get0_param)(void *);
    long (*get_verify_result)(const void *);
    int (*param_set1_ip_asc)(void *, const char *);
    unsigned long (*err_get)(void);
    void (*err_string)(unsigned long, char *, size_t);
    const char *(*verify_string)(long);
    int (*ctx_set_suites)(void *, const char *);
    void (*ctx_set_read_buffer)(void *, size_t);
    void (*set_bio)(void *, void *, void *);
    int (*bio_new_index)(void);
    void *(*bio_meth_new)(int, const char *);
    int (*bio_meth_set_write)(void *, int (*)(void *, const char *, int));
    int (*bio_meth_set_read)(void *, int (*)(void *, char *, int));
    int (*bio_meth_set_ctrl)(void *, long (*)(void *, int, long, void *));
    void *(*bio_new)(const void *);
    void (*bio_set_data)(void *, void *);
    void *(*bio_get_data)(void *);
    void (*bio_set_init)(void *, int);
    void (*bio_clear_flags)(void *, int);
    int (*bio_meth_set_destroy)(void *, int (*)(void *));
    void *(*get_wbio)(const void *);
    void *socket_method;  // the BIO_METHOD below
} ossl;
static int ossl_state;  // 0 untried, 1 loaded, -1 unavailable
static char ossl_failure[256];
static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;

// OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE when the peer has gone: fatal to a CUDA
// program that did not ask for it, and blocking the signal around every call costs four system calls each time.
// This BIO sends with MSG_NOSIGNAL instead, and reads and writes the blocking socket directly. It gathers the records
// of one write (`tessera_tls_write` sends them when `SSL_write` returns) and sends whatever it holds before it
// blocks in a read, so nothing waits in it while the peer waits for it.
typedef struct {
    int fd;
    size_t used;
    unsigned char pending[WRITE_BUFFER_BYTES];
} tls_socket;

static int send_all(int fd, const unsigned char *data, size_t length) {
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

/// Sends the gathered records: 0, or -1 with errno set (they are dropped: the connection is unusable then).
static int send_pending(tls_socket *s) {
    if (s->used == 0) return 0;
    int r = send_all(s->fd, s->pending, s->used);
    s->used = 0;
    return r;
}

static int socket_write(void *bio, const char *data, int length) {
    tls_socket *s = ossl.bio_get_data(bio);
    ossl.bio_clear_flags(bio, T_BIO_FLAGS_RWS_AND_RETRY);
    if (length <= 0) return 0;
    if (s->used + (size_t)length > sizeof s->pending && send_pending(s) < 0) return -1;
    if ((size_t)length >= sizeof s->pending) return send_all(s->fd, (const unsigned char *)data, (size_t)length) < 0 ? -1 : length;
    memcpy(s->pending + s->used, data, (size_t)length);
    s->used += (size_t)length;
    return length;
}

static int socket_read(void *bio, char *data, int length) {
    tls_socket *s = ossl.bio_get_data(bio);
    ossl.bio_clear_flags(bio, T_BIO_FLAGS_RWS_AND_RETRY);
    if (send_pending(s) < 0) return -1;
    ssize_t n;
    do { n = recv(s->fd, data, (size_t)length, 0); } while (n < 0 && errno == EINTR);
    if (n == 0) errno = 0;  // the end of the stream, not an error
    return (int)n;
}

static long socket_ctrl(void *bio, int command, long number, void *pointer) {
    (void)number; (void)pointer;
    if (command != T_BIO_CTRL_FLUSH) return 0;
    return send_pending(ossl.bio_get_data(bio)) < 0 ? 0 : 1;
}

static int socket_destroy(void *bio) {
    free(ossl.bio_get_data(bio));
    ossl.bio_set_data(bio, NULL);
    return 1;
}

static void load_openssl(void) {
    void *ssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    void *crypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!ssl || !crypto) {
        snprintf(ossl_failure, sizeof ossl_failure, "TLS needs OpenSSL 3 (libssl.so.3): %s", dlerror());
        ossl_state = -1;
        return;
    }
#define S(field, name) if (!(*(void **)&ossl.field = dlsym(ssl, name))) goto missing;
#define C(field, name) if (!(*(void **)&ossl.field = dlsym(crypto, name))) goto missing;
    const char *name = "";
    S(init_ssl, "OPENSSL_init_ssl") S(client_method, "TLS_client_method") S(server_method, "TLS_server_method")
    S(ctx_new, "SSL_CTX_new") S(ctx_free, "SSL_CTX_free") S(ctx_ctrl, "SSL_CTX_ctrl")
    S(ctx_use_chain, "SSL_CTX_use_certificate_chain_file") S(ctx_use_key, "SSL_CTX_use_PrivateKey_file")
    S(ctx_check_key, "SSL_CTX_check_private_key") S(ctx_load_verify, "SSL_CTX_load_verify_locations")
    S(ctx_set_verify, "SSL_CTX_set_verify") S(ssl_new, "SSL_new") S(ssl_free, "SSL_free")
    S(ssl_connect, "SSL_connect") S(ssl_accept, "SSL_accept") S(ssl_read, "SSL_read") S(ssl_write, "SSL_write")
    S(get_error, "SSL_get_error") S(ssl_shutdown, "SSL_shutdown") S(ssl_ctrl, "SSL_ctrl") S(set1_host, "SSL_set1_host")
    S(get0_param, "SSL_get0_param") S(get_verify_result, "SSL_get_verify_result")
    C(param_set1_ip_asc, "X509_VERIFY_PARAM_set1_ip_asc") C(err_get, "ERR_get_error") C(err_string, "ERR_error_string_n")
    C(verify_string, "X509_verify_cert_error_string")
    S(ctx_set_suites, "SSL_CTX_set_ciphersuites") S(ctx_set_read_buffer, "SSL_CTX_set_default_read_buffer_len") S(set_bio, "SSL_set_bio")
    C(bio_new_index, "BIO_get_new_index") C(bio_meth_new, "BIO_meth_new") C(bio_meth_set_write, "BIO_meth_set_write")
    C(bio_meth_set_read, "BIO_meth_set_read") C(bio_meth_set_ctrl, "BIO_meth_set_ctrl") C(bio_new, "BIO_new")
    C(bio_set_data, "BIO_set_data") C(bio_get_data, "BIO_get_data") C(bio_set_init, "BIO_set_init")
    C(bio_clear_flags, "BIO_clear_flags") C(bio_meth_set_destroy, "BIO_meth_set_destroy") S(get_wbio, "SSL_get_wbio")
#undef S
#undef C
    ossl.init_ssl(T_OPENSSL_INIT_LOAD_SSL_STRINGS | T_OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
    ossl.socket_method = ossl.bio_meth_new(ossl.bio_new_index() | T_BIO_TYPE_SOURCE_SINK, "tessera socket");
    if (!ossl.socket_method) goto missing;
    ossl.bio_meth_set_write(ossl.socket_method, socket_write);
    ossl.bio_meth_set_read(ossl.socket_method, socket_read);
    ossl.bio_meth_set_ctrl(ossl.socket_method, socket_ctrl);
    ossl.bio_meth_set_destroy(ossl.socket_method, socket_destroy);
    ossl_state = 1;
    return;
missing:
    (void)name;
    snprintf(ossl_failure, sizeof ossl_failure, "TLS: the system's OpenSSL lacks a needed function (%s)", dlerror());
    ossl_state = -1;
}

static int loaded(char *err, size_t errlen) {
    pthread_once(&ossl_once, load_openssl);
    if (ossl_state != 1) { snprintf(err, errlen, "%s", ossl_failure); return 0; }
    return 1;
}

/// OpenSSL's queued errors (or `fallback`) into `err`.
static void report(const char *what, const char *fallback, char *err, size_t errlen) {
    unsigned long e = ossl.err_get();
    char detail[200] = "";
    if (e) ossl.err_string(e, detail, sizeof detail);
    while (ossl.err_get()) {}
    snprintf(err, errlen, "%s: %s", what, e ? detail : fallback);
}

void *tessera_tls_client_context(const char *ca_file, char *err, size_t errlen) {
    if (!loaded(err, errlen)) return NULL;
    void *ctx = ossl.ctx_new(ossl.client_method());
    if (!ctx) { report("TLS", "cannot create a context", err, errlen); return NULL; }
    ossl.ctx_ctrl(ctx, T_SSL_CTRL_SET_MIN_PROTO_VERSION, T_TLS1_2_VERSION, NULL);
    // Read as many records as have arrived (up to read_buffer_bytes) in one system call, not one per record.
    ossl.ctx_ctrl(ctx, T_SSL_CTRL_SET_READ_AHEAD, 1, NULL);
    ossl.ctx_set_suites(ctx, tls13_suites);
    ossl.ctx_set_read_buffer(ctx, read_buffer_bytes);
    if (ossl.ctx_load_verify(ctx, ca_file, NULL) != 1) {
        report(ca_file, "cannot read the CA bundle", err, errlen);
        ossl.ctx_free(ctx);
        return NULL;
    }
    ossl.ctx_set_verify(ctx, T_SSL_VERIFY_PEER, NULL);
    return ctx;
}

void *tessera_tls_server_context(const char *cert_file, const char *key_file, char *err, size_t errlen) {
    if (!loaded(err, errlen)) return NULL;
    void *ctx = ossl.ctx_new(ossl.server_method());
    if (!ctx) { report("TLS", "cannot create a context", err, errlen); return NULL; }
    ossl.ctx_ctrl(ctx, T_SSL_CTRL_SET_MIN_PROTO_VERSION, T_TLS1_2_VERSION, NULL);
    // Read as many records as have arrived (up to read_buffer_bytes) in one system call, not one per record.
    ossl.ctx_ctrl(ctx, T_SSL_CTRL_SET_READ_AHEAD, 1, NULL);
    ossl.ctx_set_suites(ctx, tls13_suites);
    ossl.ctx_set_read_buffer(ctx, read_buffer_bytes);
    if (ossl.ctx_use_chain(ctx, cert_file) != 1) {
        report(cert_file, "cannot read the certificate", err, errlen);
        ossl.ctx_free(ctx);
        return NULL;
    }
    if (ossl.ctx_use_key(ctx, key_file, T_SSL_FILETYPE_PEM) != 1 || ossl.ctx_check_key(ctx) != 1) {
        report(key_file, "cannot read the private key, or it does not match the certificate", err, errlen);
        ossl.ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void tessera_tls_context_free(void *ctx) {
    if (ctx && ossl_state == 1) ossl.ctx_free(ctx);
}

void tessera_tls_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

/// Runs `SSL_connect`/`SSL_accept` to completion on a blocking socket.
static void *handshake(void *ctx, int fd, const char *host, int client, char *err, size_t errlen) {
    void *ssl = ossl.ssl_new(ctx);
    if (!ssl) { report("TLS", "cannot create a session", err, errlen); return NULL; }
    tls_socket *sock = malloc(sizeof *sock);
    void *bio = sock ? ossl.bio_new(ossl.socket_method) : NULL;
    if (!bio) { report("TLS", "cannot create a session", err, errlen); free(sock); ossl.ssl_free(ssl); return NULL; }
    sock->fd = fd;
    sock->used = 0;
    ossl.bio_set_data(bio, sock);
    ossl.bio_set_init(bio, 1);
    ossl.set_bio(ssl, bio, bio);  // the session owns the BIO (one reference for both directions)
    if (client && host && *host) {
        unsigned char ip[16];
        if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
            ossl.param_set1_ip_asc(ossl.get0_param(ssl), host);
        } else {
            ossl.set1_host(ssl, host);
            ossl.ssl_ctrl(ssl, T_SSL_CTRL_SET_TLSEXT_HOSTNAME, 0, (void *)host);
        }
    }
    int r;
    do {
        r = client ? ossl.ssl_connect(ssl) : ossl.ssl_accept(ssl);
    } while (r <= 0 && ossl.get_error(ssl, r) == T_SSL_ERROR_SYSCALL && errno == EINTR);
    if (r != 1) {
        long verify = ossl.get_verify_result(ssl);
        if (client && verify != 0) {
            snprintf(err, errlen, "TLS: the node's certificate is not trusted: %s", ossl.verify_string(verify));
            while (ossl.err_get()) {}
        } else {
            report("TLS handshake failed", errno ? strerror(errno) : "the peer closed the connection", err, errlen);
        }
        ossl.ssl_free(ssl);
        return NULL;
    }
    return ssl;
}

void *tessera_tls_connect(void *ctx, int fd, const char *host, char *err, size_t errlen) {
    return handshake(ctx, fd, host, 1, err, errlen);
}

void *tessera_tls_accept(void *ctx, int fd, char *err, size_t errlen) {
    return handshake(ctx, fd, NULL, 0, err, errlen);
}

ssize_t tessera_tls_read(void *ssl, void *data, size_t length) {
    if (length > 1 << 30) length = 1 << 30;
    ssize_t result;
    for (;;) {
        int n = ossl.ssl_read(ssl, data, (int)length);
        if (n > 0) { result = n; break; }
        int e = ossl.get_error(ssl, n);
        if (e == T_SSL_ERROR_ZERO_RETURN) { result = 0; break; }
        if (e == T_SSL_ERROR_WANT_READ || e == T_SSL_ERROR_WANT_WRITE) continue;
        if (e == T_SSL_ERROR_SYSCALL && errno == EINTR) continue;
        while (ossl.err_get()) {}
        // An unclean close (the peer died) reads as the end of the stream, as on a plain socket.
        result = e == T_SSL_ERROR_SYSCALL && errno == 0 ? 0 : -1;
        break;
    }
    return result;
}

ssize_t tessera_tls_write(void *ssl, const void *data, size_t length) {
    if (length > 1 << 30) length = 1 << 30;
    ssize_t result;
    for (;;) {
        int n = ossl.ssl_write(ssl, data, (int)length);
        if (n > 0) {
            result = send_pending(ossl.bio_get_data(ossl.get_wbio(ssl))) < 0 ? -1 : n;
            break;
        }
        int e = ossl.get_error(ssl, n);
        if (e == T_SSL_ERROR_WANT_READ || e == T_SSL_ERROR_WANT_WRITE) continue;
        if (e == T_SSL_ERROR_SYSCALL && errno == EINTR) continue;
        while (ossl.err_get()) {}
        result = -1;
        break;
    }
    return result;
}

void tessera_tls_free(void *ssl) {
    if (!ssl) return;
    ossl.ssl_free(ssl);
}
