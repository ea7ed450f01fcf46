// Baselines for the data-path benchmark: a raw unix-socket ping-pong between two processes (the floor for a
// synchronous call) and one-way streaming of launch-sized messages (the floor for pipelined calls).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int full(int fd, char *b, size_t n, int writing) {
    size_t o = 0;
    while (o < n) {
        ssize_t k = writing ? write(fd, b + o, n - o) : read(fd, b + o, n - o);
        if (k <= 0) return -1;
        o += (size_t)k;
    }
    return 0;
}

int main(int argc, char **argv) {
    // Usage: baseline pingpong|stream N
    int stream = argc > 1 && argv[1][0] == 's';
    int n = argc > 2 ? atoi(argv[2]) : 20000;
    int trips = stream ? 0 : n;
    int messages = stream ? n : 0;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t child = fork();
    if (child == 0) {
        // Echo a 64-byte reply to each 64-byte request (a reply header is about that size), then swallow a stream.
        char buf[65536];
        for (int i = 0; i < trips + 1000; i++) {
            if (full(sv[1], buf, 64, 0) || full(sv[1], buf, 64, 1)) _exit(1);
        }
        size_t want = (size_t)messages * 112;
        while (want > 0) {
            ssize_t k = read(sv[1], buf, want < sizeof buf ? want : sizeof buf);
            if (k <= 0) _exit(1);
            want -= (size_t)k;
        }
        if (messages) full(sv[1], buf, 1, 1);
        _exit(0);
    }
    char msg[112] = {0};
    for (int i = 0; i < 1000; i++) { full(sv[0], msg, 64, 1); full(sv[0], msg, 64, 0); }
    double t = seconds();
    for (int i = 0; i < trips; i++) { full(sv[0], msg, 64, 1); full(sv[0], msg, 64, 0); }
    if (!stream) printf("raw_pingpong_us %.3f us\n", (seconds() - t) / trips * 1e6);
    // One write per message, as an unbatched pipeline would do (112 bytes: a launch frame with 3 pointer args).
    t = seconds();
    for (int i = 0; i < messages; i++) full(sv[0], msg, sizeof msg, 1);
    if (messages) full(sv[0], msg, 1, 0);
    if (stream) printf("raw_stream_msgs_per_s %.0f /s\n", messages / (seconds() - t));
    waitpid(child, NULL, 0);
    return 0;
}
