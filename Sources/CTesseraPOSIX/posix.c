#define _GNU_SOURCE
#include "CTesseraPOSIX.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

ssize_t tessera_send_with_fd(int socket, const void *data, size_t length, int fd) {
    struct iovec iov = { .iov_base = (void *)data, .iov_len = length };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(socket, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n;
}

ssize_t tessera_recv_with_fds(int socket, void *data, size_t length, int *fds, int max_fds, int *fd_count) {
    struct iovec iov = { .iov_base = data, .iov_len = length };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * 16)]; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    *fd_count = 0;
    ssize_t n;
    do { n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd_count < max_fds) fds[(*fd_count)++] = fd; else close(fd);
        }
    }
    return n;
}

int tessera_peer_credentials(int socket, int32_t *pid, int32_t *uid, int32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid; *uid = (int32_t)cred.uid; *gid = (int32_t)cred.gid;
    return 0;
}

int tessera_memfd_sealed(const char *name, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
}

int tessera_fd_is_shrink_sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
}

int tessera_hangup_watcher_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int tessera_hangup_watcher_add(int watcher, int socket, uint64_t token) {
    struct epoll_event e = { .events = EPOLLRDHUP | EPOLLHUP | EPOLLERR, .data.u64 = token };
    return epoll_ctl(watcher, EPOLL_CTL_ADD, socket, &e);
}

int tessera_hangup_watcher_remove(int watcher, int socket) {
    return epoll_ctl(watcher, EPOLL_CTL_DEL, socket, NULL);
}

int tessera_hangup_watcher_wait(int watcher, uint64_t *tokens, int max_tokens, int timeout_ms) {
    struct epoll_event events[64];
    if (max_tokens > 64) max_tokens = 64;
    int n = epoll_wait(watcher, events, max_tokens, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}

static int unix_address(const char *path, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a->sun_path) { errno = ENAMETOOLONG; return -1; }
    strcpy(a->sun_path, path);
    return 0;
}

int tessera_connect_unix(const char *path) {
    struct sockaddr_un a;
    if (unix_address(path, &a) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int r;
    do { r = connect(fd, (struct sockaddr *)&a, sizeof a); } while (r < 0 && errno == EINTR);
    if (r != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

int tessera_listen_unix(const char *path, int backlog) {
    // Bound and listening under a temporary name first, then renamed into place: the path appears only once
    // connections are accepted, so a client that sees it never gets ECONNREFUSED (between bind and listen).
    char staging[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (snprintf(staging, sizeof staging, "%s.%d", path, (int)getpid()) >= (int)sizeof staging) {
        errno = ENAMETOOLONG;
        return -1;
    }
    struct sockaddr_un a;
    if (unix_address(staging, &a) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    unlink(staging);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 || rename(staging, path) != 0) {
        int e = errno; close(fd); unlink(staging); errno = e; return -1;
    }
    return fd;
}

void tessera_tcp_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int tessera_connect_tcp(const char *host, int port) {
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0) { errno = EHOSTUNREACH; return -1; }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) tessera_tcp_nodelay(fd);
    return fd;
}

int tessera_listen_tcp(const char *host, int port, int backlog, int *bound_port) {
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0) { errno = EADDRNOTAVAIL; return -1; }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

int tessera_peer_address(int socket, char *buffer, size_t length) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(socket, (struct sockaddr *)&ss, &len) != 0) return -1;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
        snprintf(buffer, length, "unix");
        return 0;
    }
    snprintf(buffer, length, "%s:%d", host, port);
    return 0;
}

int tessera_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC); }

void tessera_write_program_output(int channel, const void *data, size_t length) {
    FILE *stream = channel == 2 ? stderr : stdout;
    if (length > 0) fwrite(data, 1, length, stream);
    if (channel == 2) fflush(stream);
}

int tessera_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

void tessera_unbuffer_stdout(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
}
