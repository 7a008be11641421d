#include "cli/progress.h"

#include <stdio.h>
#include <unistd.h>

void cli_progress_start(cli_progress *p, size_t total, int quiet) {
    p->total = total;
    p->done = p->failed = 0;
    p->start_ms = vte_now_ms();
    p->terminal = isatty(fileno(stderr));
    p->quiet = quiet;
    p->drawn = 0;
}

static void format_duration(double seconds, char *out, size_t size) {
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(out, size, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    else if (s >= 60) snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
    else snprintf(out, size, "%lds", s);
}

void cli_progress_advance(cli_progress *p, size_t done, size_t failed) {
    p->done += done;
    p->failed += failed;
    if (p->quiet) return;
    double elapsed = (vte_now_ms() - p->start_ms) / 1000.0;
    double rate = elapsed > 0 ? p->done / elapsed : 0.0;
    char left[32] = "?";
    if (rate > 0) format_duration((double)(p->total - p->done) / rate, left, sizeof left);
    char failed_text[48] = "";
    if (p->failed) snprintf(failed_text, sizeof failed_text, ", %zu failed", p->failed);
    if (p->terminal) {
        enum { WIDTH = 30 };
        int filled = p->total ? (int)(WIDTH * p->done / p->total) : WIDTH;
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '-';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r\033[K[%s] %zu/%zu images, %.2f images/s, %s left%s", bar, p->done, p->total, rate, left,
                failed_text);
        p->drawn = 1;
    } else {
        fprintf(stderr, "progress: %zu/%zu images, %.2f images/s, %s left%s\n", p->done, p->total, rate, left,
                failed_text);
    }
    fflush(stderr);
}

void cli_progress_clear(cli_progress *p) {
    if (p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        p->drawn = 0;
    }
}

void cli_progress_finish(cli_progress *p) {
    if (p->drawn) {
        fputc('\n', stderr);
        p->drawn = 0;
    }
}
