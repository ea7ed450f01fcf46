#ifndef C_TESSERA_POSIX_H
#define C_TESSERA_POSIX_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Sends `length` bytes and, when `fd` >= 0, the descriptor as SCM_RIGHTS ancillary data. Returns bytes sent or -1.
ssize_t tessera_send_with_fd(int socket, const void *data, size_t length, int fd);

/// Receives up to `length` bytes; descriptors that arrive are stored in `fds` (at most `max_fds`, the rest are
/// closed) and their number in `*fd_count`. Returns bytes received, 0 at end of stream, or -1.
ssize_t tessera_recv_with_fds(int socket, void *data, size_t length, int *fds, int max_fds, int *fd_count);

/// The peer's process, user and group ids from the kernel (SO_PEERCRED). Returns 0 on success.
int tessera_peer_credentials(int socket, int32_t *pid, int32_t *uid, int32_t *gid);

/// An anonymous shared-memory file of `size` bytes (memfd, close-on-exec) sealed against shrinking, so a peer
/// that maps it can never fault on a truncated page. Returns a descriptor or -1.
int tessera_memfd_sealed(const char *name, size_t size);
/// Whether `fd` is sealed against shrinking (F_SEAL_SHRINK).
int tessera_fd_is_shrink_sealed(int fd);

/// A hang-up watcher: an epoll instance reporting EPOLLRDHUP/EPOLLHUP on registered sockets.
int tessera_hangup_watcher_create(void);
int tessera_hangup_watcher_add(int watcher, int socket, uint64_t token);
int tessera_hangup_watcher_remove(int watcher, int socket);
/// Waits up to `timeout_ms` for hang-ups; returns the number of tokens stored in `tokens`, or -1.
int tessera_hangup_watcher_wait(int watcher, uint64_t *tokens, int max_tokens, int timeout_ms);

/// Connects a unix stream socket to `path`; returns the descriptor or -1 (errno set).
int tessera_connect_unix(const char *path);
/// Binds and listens on a unix stream socket at `path` (replacing a stale socket file); returns the descriptor or -1.
int tessera_listen_unix(const char *path, int backlog);
/// Connects to a TCP host and port (numeric or resolvable name); returns the descriptor or -1.
int tessera_connect_tcp(const char *host, int port);
/// Listens on a TCP host and port; `*bound_port` receives the port actually bound (for port 0). Returns fd or -1.
int tessera_listen_tcp(const char *host, int port, int backlog, int *bound_port);
/// Accepts a connection with close-on-exec set; returns the descriptor or -1 (errno set).
int tessera_accept(int listener);
/// Disables Nagle's algorithm: pipelined frames must not wait for acknowledgements.
void tessera_tcp_nodelay(int fd);
/// The numeric address of a connected TCP peer as "host:port" into `buffer`; returns 0 on success.
int tessera_peer_address(int socket, char *buffer, size_t length);
/// Writes device output into the program's own C streams: `channel` 1 is `stdout` (buffered like the
/// program's printf, so the two interleave in call order), 2 is `stderr` (flushed at once).
void tessera_write_program_output(int channel, const void *data, size_t length);

/// pipe2(fds, O_CLOEXEC); 0 or -1 with errno.
int tessera_pipe_cloexec(int fds[2]);

/// Makes this process's `stdout` unbuffered (a GPU worker's stdout is the node's pipe for device output).
void tessera_unbuffer_stdout(void);

/// TLS through the system's OpenSSL 3 (libssl.so.3, loaded at first use). Contexts and sessions are opaque.
/// Each returns NULL on failure with a one-line reason in `err`.
void *tessera_tls_client_context(const char *ca_file, char *err, size_t errlen);
void *tessera_tls_server_context(const char *cert_file, const char *key_file, char *err, size_t errlen);
void tessera_tls_context_free(void *ctx);
/// Completes the handshake on a connected blocking socket; the client verifies the peer's certificate
/// against its CA bundle and `host` (a name or an IP address).
void *tessera_tls_connect(void *ctx, int fd, const char *host, char *err, size_t errlen);
void *tessera_tls_accept(void *ctx, int fd, char *err, size_t errlen);
/// Like read(2)/send(2) on the session: bytes moved, 0 at end of stream, -1 on failure (never SIGPIPE).
ssize_t tessera_tls_read(void *ssl, void *data, size_t length);
ssize_t tessera_tls_write(void *ssl, const void *data, size_t length);
void tessera_tls_free(void *ssl);
/// For a daemon that owns its process (the node): ignore SIGPIPE process-wide. (TLS itself never raises it: its
/// sessions send with MSG_NOSIGNAL.)
void tessera_tls_ignore_sigpipe(void);

#endif
